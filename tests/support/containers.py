"""Running the project's container images with podman for tests: start, wait healthy, logs, remove."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from tools.container_images import Podman

HEALTHY_TIMEOUT_S = 90.0


@dataclass
class Container:
    """One detached container on the host network (the images bind 127.0.0.1 when told so)."""

    podman: Podman
    image: str
    role: str
    name: str = field(default="")

    def __post_init__(self) -> None:
        self.name = self.name or f"wopi-proxy-test-{self.role}-{secrets.token_hex(4)}"

    def start(self, *command: str, env: dict[str, str], volumes: list[str]) -> Container:
        args = ["run", "--detach", "--name", self.name, "--network", "host"]
        for key, value in env.items():
            args += ["--env", f"{key}={value}"]
        for volume in volumes:
            args += ["--volume", volume]
        self.podman.run(*args, self.image, *command, timeout=120)
        return self

    def wait_healthy(self, timeout: float = HEALTHY_TIMEOUT_S) -> None:
        """Runs the image's HEALTHCHECK (`podman healthcheck run`, no systemd here) until it passes."""
        deadline = time.monotonic() + timeout
        while True:
            check = self.podman.run("healthcheck", "run", self.name, check=False, timeout=30)
            if check.returncode == 0:
                return
            if self.state() != "running":
                raise AssertionError(f"{self.role} container is {self.state()}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.role} not healthy after {timeout:.0f} s "
                                     f"({check.stdout.strip()}):\n{self.logs()}")
            time.sleep(0.5)

    def state(self) -> str:
        return self.inspect("{{.State.Status}}")

    def exit_code(self) -> int:
        return int(self.inspect("{{.State.ExitCode}}"))

    def inspect(self, template: str) -> str:
        return self.podman.run("inspect", "--format", template, self.name, check=False).stdout.strip()

    def exec(self, *command: str) -> str:
        return self.podman.run("exec", self.name, *command, timeout=60).stdout

    def logs(self) -> str:
        return self.podman.run("logs", self.name, check=False, timeout=30).stdout

    def stop(self, timeout_s: int = 20) -> None:
        """SIGTERM, as an orchestrator stops it; SIGKILL after `timeout_s`."""
        self.podman.run("stop", "--time", str(timeout_s), self.name, check=False, timeout=timeout_s + 30)

    def remove(self) -> None:
        self.podman.run("rm", "--force", "--time", "5", self.name, check=False, timeout=60)
