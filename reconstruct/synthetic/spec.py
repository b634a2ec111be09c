"""What a source world is made of, as data: its table surface, the sheets lying on it, the
room's light, the movable objects and the task. ``reconstruct.synthetic.world`` writes a
package from one of these; the bundled source worlds are the descriptions in ``WORLDS``.

Two unlike worlds let the fidelity study check that a result is not tuned to one scene:
``tabletop_source`` (dark oak, photographs, neutral light, printed boxes, a can and a rattan
tray) and ``kitchen_source`` (a light block-printed tablecloth, leaflets, cool daylight from a
window on the left, a red carton, a tall can, a flat box and a plastic crate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconstruct.initial_conditions import LayoutConfig

Pose2 = tuple[float, float, float]  # x m, y m, yaw deg
SURFACES = ("wood", "cloth")
FINISHES = ("weave", "plastic")


@dataclass(frozen=True)
class SourceObject:
    """One movable object. ``kind``: box (extents x y z), can (radius, radius, height) or
    tray (outer x y z); ``scan_pose``: where it stands during the scan (and in initial
    condition 0); ``finish``: a tray's surface (weave: rattan, plastic: a moulded crate)."""

    name: str
    kind: str
    size: tuple[float, float, float]
    mass: float
    scan_pose: Pose2
    colour: tuple[int, int, int] = (128, 128, 128)
    words: tuple[str, ...] = ()
    finish: str = "weave"


@dataclass(frozen=True)
class TablePrint:
    """A sheet lying on the table, ``size`` (m) centred at ``centre`` (m), turned
    ``angle_deg``: a crop (fractions x0 y0 x1 y1) of a photograph when ``photo`` names one,
    otherwise a printed leaflet of ``colour`` with ``words``."""

    centre: tuple[float, float]
    angle_deg: float
    photo: str = ""
    crop: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    words: tuple[str, ...] = ()
    colour: tuple[int, int, int] = (238, 234, 224)
    size: tuple[float, float] = (0.2, 0.14)


@dataclass(frozen=True)
class Lighting:
    """The room's light, baked into the world's textures (MuJoCo's lights are the scene's,
    the same in every package): ``tint`` is its colour temperature as an RGB gain, ``gain``
    its intensity, and the table darkens by ``falloff`` (a fraction) from the side the light
    comes from (``azimuth_deg`` in the table plane, 0 = from +x, 90 = from +y) to the other.
    The default is neutral: textures unchanged."""

    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gain: float = 1.0
    falloff: float = 0.0
    azimuth_deg: float = 0.0


TABLETOP_OBJECTS = (
    SourceObject(
        "red_box",
        "box",
        (0.05, 0.05, 0.065),
        0.12,
        (0.45, -0.17, 15.0),
        (196, 40, 34),
        ("TOMATO", "soup mix"),
    ),
    SourceObject(
        "green_box",
        "box",
        (0.065, 0.045, 0.05),
        0.1,
        (0.62, -0.13, -20.0),
        (38, 132, 62),
        ("GREEN", "tea 20 bags"),
    ),
    SourceObject(
        "blue_can",
        "can",
        (0.028, 0.028, 0.09),
        0.2,
        (0.42, 0.02, 0.0),
        (32, 72, 168),
        ("COLA", "330 ml"),
    ),
    SourceObject("tray", "tray", (0.19, 0.14, 0.045), 0.3, (0.6, 0.17, 10.0)),
)

TABLETOP_PRINTS = (  # photographs lying on the table
    TablePrint((0.1, 0.3), 12.0, "00052.jpg", (0.25, 0.15, 0.75, 0.85)),
    TablePrint((0.78, -0.33), -8.0, "00010.jpg", (0.2, 0.1, 0.8, 0.9)),
    TablePrint((0.2, -0.34), 25.0, "00042.jpg", (0.25, 0.1, 0.75, 0.9)),
    TablePrint((0.82, 0.3), -15.0, "00065.jpg", (0.2, 0.15, 0.8, 0.85)),
)


@dataclass(frozen=True)
class SourceWorldConfig:
    """The source world's layout, textures, light and task (the default: ``tabletop_source``).

    Attributes:
        name: the package name; twin: the name its reconstructed twin gets.
        table_x, table_y: the table top's extent, metres (the robot base is at the origin).
        table_thickness: metres.
        surface: the table top's texture (``SURFACES``).
        texture_px_per_m: table texture resolution.
        prints: the sheets lying on the table.
        marker_size: side of the marker's black square, metres.
        lighting: the room's light.
        objects: the movable objects.
        task: (object, container) of the pick-and-place rubric.
        layouts: how initial conditions are sampled (condition 0 is the scan arrangement).
        camera_size: (width, height) of the DROID-like cameras.
        seed: texture seed.
    """

    name: str = "tabletop_source"
    twin: str = "tabletop_twin"
    table_x: tuple[float, float] = (-0.25, 0.95)
    table_y: tuple[float, float] = (-0.5, 0.5)
    table_thickness: float = 0.04
    surface: str = "wood"
    texture_px_per_m: float = 1000.0
    prints: tuple[TablePrint, ...] = TABLETOP_PRINTS
    marker_size: float = 0.15
    lighting: Lighting = Lighting()
    objects: tuple[SourceObject, ...] = TABLETOP_OBJECTS
    task: tuple[str, str] = ("red_box", "tray")
    layouts: LayoutConfig = field(default_factory=lambda: LayoutConfig(seed=3))
    camera_size: tuple[int, int] = (320, 180)
    seed: int = 0

    @property
    def instruction(self) -> str:
        obj, container = (n.replace("_", " ") for n in self.task)
        return f"put the {obj} in the {container}"


TABLETOP = SourceWorldConfig()
KITCHEN = SourceWorldConfig(
    name="kitchen_source",
    twin="kitchen_twin",
    surface="cloth",
    prints=(  # leaflets and a recipe card instead of photographs
        TablePrint((0.08, 0.32), -10.0, words=("WEEKLY", "offers", "fresh bread")),
        TablePrint(
            (0.8, -0.32),
            18.0,
            words=("RECIPE", "lemon cake", "200 g flour"),
            colour=(250, 240, 200),
        ),
        TablePrint(
            (0.22, -0.36),
            -30.0,
            words=("MENU", "soups", "salads"),
            colour=(214, 230, 240),
            size=(0.15, 0.21),
        ),
    ),
    lighting=Lighting(tint=(0.86, 0.94, 1.0), gain=1.05, falloff=0.3, azimuth_deg=100.0),
    objects=(
        SourceObject(
            "red_carton",
            "box",
            (0.055, 0.045, 0.07),
            0.1,
            (0.62, 0.14, -25.0),
            (214, 38, 52),
            ("BERRY", "juice 1 l"),
        ),
        SourceObject(
            "yellow_can",
            "can",
            (0.033, 0.033, 0.1),
            0.25,
            (0.4, 0.16, 0.0),
            (232, 190, 40),
            ("CORN", "400 g"),
        ),
        SourceObject(
            "purple_box",
            "box",
            (0.075, 0.05, 0.048),
            0.1,
            (0.43, -0.02, 65.0),
            (112, 52, 140),
            ("GRAPE", "biscuits"),
        ),
        SourceObject(
            "crate",
            "tray",
            (0.21, 0.155, 0.05),
            0.35,
            (0.55, -0.18, -12.0),
            (62, 112, 150),
            finish="plastic",
        ),
    ),
    task=("red_carton", "crate"),
    layouts=LayoutConfig(seed=5),
    seed=1,
)

WORLDS: dict[str, SourceWorldConfig] = {w.name: w for w in (TABLETOP, KITCHEN)}
"""The bundled source worlds by package name."""
