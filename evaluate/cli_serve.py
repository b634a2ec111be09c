"""``twinbench serve``: expose any policy spec over openpi's websocket protocol."""

from __future__ import annotations

import typer


def serve(
    policy: str = typer.Argument(
        ..., help="Policy spec: bundle:PATH, openpi://HOST:PORT[?...] or another registered scheme."
    ),
    port: int = typer.Option(8000, "--port", "-p", help="TCP port (0: any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (0.0.0.0: all)."),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar="TWINBENCH_API_KEY",
        help="Require 'Authorization: Api-Key KEY' from clients.",
    ),
    max_frame_mb: float = typer.Option(
        32.0, "--max-frame-mb", min=0.001, help="Refuse requests larger than this (MiB)."
    ),
) -> None:
    """Serve a policy to openpi-compatible clients until interrupted (GET /healthz answers 200).

    Example: twinbench serve bundle:checkpoints/my_policy --port 8000 --api-key s3cret
    """
    from evaluate.errors import EvaluateError
    from evaluate.policies import make_policy
    from evaluate.serving import PolicyServer, ServerConfig

    with make_policy(policy) as loaded:
        meta = loaded.metadata

        def announce(bound_port: int) -> None:
            typer.echo(
                f"serving {meta.policy_id} ({meta.action_space}, cameras "
                f"{list(meta.image_keys)}) on ws://{host}:{bound_port}",
                err=True,
            )

        server = PolicyServer(
            loaded,
            ServerConfig(
                host=host, port=port, api_key=api_key, max_frame_bytes=int(max_frame_mb * 2**20)
            ),
        )
        try:
            server.serve_forever(on_listening=announce)
        except OSError as exc:  # port taken, address not local, ...
            raise EvaluateError(f"cannot serve on {host}:{port}: {exc}") from exc
