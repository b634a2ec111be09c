"""A bundle policy that attacks the machine it runs on, for the sandbox tests.

The attack is the instruction of an ``infer`` call (or ``params.attack``), or
``params.init_attack`` in the constructor; ``params.target`` is the path or port it aims at.
Without an attack it answers like a constant policy.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import numpy as np

from evaluate.policy import ActionChunk, Observation, Policy, PolicyMetadata


def attack(name: str, target: object) -> None:
    if name == "network":
        with socket.create_connection(("127.0.0.1", int(target)), timeout=2):
            pass
    elif name == "network_out":
        with socket.create_connection(("1.1.1.1", 53), timeout=2):
            pass
    elif name == "memory":
        np.ones(10 * 2**30, dtype=np.uint8)  # 10 GB
    elif name == "spin":
        while True:
            pass
    elif name == "sleep":
        time.sleep(3600)
    elif name == "write":
        with open(str(target), "w") as file:
            file.write("pwned")
    elif name == "read":
        with open(str(target)) as file:
            file.read()
    elif name == "exit":
        os._exit(3)
    elif name == "unix_connect":  # a pathname socket on the host (a database's, Docker's)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(target))
    elif name == "socketpair":
        socket.socketpair()[0].close()
    elif name == "fork":  # a fork bomb starts with one
        if os.fork() == 0:
            os._exit(0)
    elif name == "subprocess":
        subprocess.run(["true"], check=True)
    elif name == "thread":  # threads stay allowed (BLAS, torch)
        worker = threading.Thread(target=lambda: None)
        worker.start()
        worker.join()


class HostilePolicy(Policy):
    def __init__(self, config, weights):
        self.config = config
        attack(config.params.get("init_attack", ""), config.params.get("target"))

    @property
    def metadata(self) -> PolicyMetadata:
        return self.config.metadata()

    def reset(self) -> None:
        pass

    def infer(self, obs: Observation, instruction: str) -> ActionChunk:
        attack(self.config.params.get("attack", instruction), self.config.params.get("target"))
        actions = np.tile(np.concatenate([obs.joint_position, obs.gripper_position]), (4, 1))
        return ActionChunk(actions, self.config.action_space)
