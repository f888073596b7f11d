"""Build the control and edge container images with podman, where Docker Hub cannot be reached.

`python -m tools.container_images build` (or `make images`) builds `localhost/wopi-proxy-control`
and `localhost/wopi-proxy-edge` from Dockerfile.control/.edge. Without `--base`, their base is
made here: Debian bookworm from debootstrap, imported into podman, plus Python 3.11 in a venv
(tools/images/base.Containerfile). That base is made once and kept in podman's storage under the
cache folder, tagged with a key of everything it is made from, so later runs only rebuild the
project's layers. tests/images/test_container_images.py runs the built images for real.

As root (CI, these sandboxes) podman gets its own configuration and storage under the cache
folder: runc, cgroupfs, file events, the open-files limit the machine allows. As another user
the user's own (rootless) podman set-up is used as it is.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE_CONTAINERFILE = ROOT / "tools" / "images" / "base.Containerfile"
# Bump to make every machine build its local base again (e.g. to pick up Debian security updates).
BASE_VERSION = "1"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
IMAGES = {"control": "localhost/wopi-proxy-control:latest", "edge": "localhost/wopi-proxy-edge:latest"}
BUILD_TIMEOUT_S = 1200
# An imported root file system has no environment: give it Debian's default PATH.
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ImageError(RuntimeError):
    """A step of making the images failed; the message carries the command's output."""


def cache_dir() -> Path:
    """WOPI_PROXY_CACHE_DIR, else $XDG_CACHE_HOME/wopi-proxy, else ~/.cache/wopi-proxy."""
    explicit = os.environ.get("WOPI_PROXY_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wopi-proxy"


def missing_tools() -> list[str]:
    """Debian packages still needed: podman always; runc and debootstrap only as root (our set-up)."""
    needed = ["podman"] + (["runc", "debootstrap"] if os.geteuid() == 0 else [])
    return [PACKAGES[tool] for tool in needed
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]


def install_tools() -> None:
    """Installs podman, runc and debootstrap from Debian's packages (root and apt-get only)."""
    missing = missing_tools()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ImageError(f"{', '.join(missing)} not installed, and installing needs root and apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], env=env, timeout=600)
    _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env, timeout=900)


def _run(command: list[str], *, timeout: float, env: dict[str, str] | None = None,
         stdin: int | None = None, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs a command; on failure raises ImageError with the tail of its output."""
    output = subprocess.PIPE if quiet else None
    try:
        done = subprocess.run(command, check=False, env=env, stdin=stdin, timeout=timeout, text=True,
                              stdout=output, stderr=subprocess.STDOUT if quiet else None)
    except subprocess.TimeoutExpired:
        raise ImageError(f"timed out after {timeout:.0f} s: {' '.join(command)}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout or "").splitlines()[-60:])
        raise ImageError(f"exit {done.returncode}: {' '.join(command)}\n{tail}")
    return done


@dataclass(frozen=True)
class Podman:
    """podman with this project's storage and configuration (root) or the user's own (rootless)."""

    global_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def for_this_machine(cls, cache: Path | None = None) -> Podman:
        if os.geteuid() != 0:
            return cls()
        cache = cache or cache_dir()
        storage = cache / "containers"
        # Run-time state (locks, mounts) apart from the cache, one folder per storage.
        tag = hashlib.sha256(str(storage.resolve()).encode()).hexdigest()[:8]
        runroot = Path(tempfile.gettempdir()) / f"wopi-proxy-podman-{os.geteuid()}-{tag}"
        storage.mkdir(parents=True, exist_ok=True)
        runroot.mkdir(parents=True, exist_ok=True)
        conf = cache / "containers.conf"
        _write_if_changed(conf, _containers_conf(runroot / "libpod"))
        return cls(global_args=("--root", str(storage), "--runroot", str(runroot)),
                   env=(("CONTAINERS_CONF", str(conf)),))

    def command(self, *args: str) -> list[str]:
        return ["podman", *self.global_args, *args]

    def run(self, *args: str, timeout: float = 120, check: bool = True,
            stdin: int | None = None, quiet: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **dict(self.env)}
        if check:
            return _run(self.command(*args), timeout=timeout, env=env, stdin=stdin, quiet=quiet)
        return subprocess.run(self.command(*args), check=False, env=env, stdin=stdin, timeout=timeout,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def image_exists(self, name: str) -> bool:
        """Exit 1 means missing; anything else but 0 is podman failing (e.g. broken storage)."""
        done = self.run("image", "exists", name, check=False)
        if done.returncode not in (0, 1):
            hint = f"\n(if the cached storage is broken, remove {cache_dir()})" if self.global_args else ""
            raise ImageError(f"podman image exists {name}: exit {done.returncode}: "
                             f"{done.stdout.strip()}{hint}")
        return done.returncode == 0


def _containers_conf(tmp_dir: Path) -> str:
    """What podman needs as root in a sandbox: its default nofile limit (1048576) is refused by
    setrlimit, crun refuses the hybrid cgroup set-up, and there is neither systemd nor journald."""
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc_hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = 32768 if nproc_hard == resource.RLIM_INFINITY else min(32768, nproc_hard)
    return (
        "# Written by tools/container_images.py\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'tmp_dir = "{tmp_dir}"\n'
    )


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def base_key(mirror: str) -> str:
    """Everything the local base is made from; a change makes a new base."""
    digest = hashlib.sha256()
    for part in (BASE_VERSION, SUITE, mirror, BASE_CONTAINERFILE.read_text()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:12]


def ensure_base(podman: Podman, mirror: str | None = None, log: bool = True) -> str:
    """The local Python base image, made once (debootstrap + import + base.Containerfile); its name.

    `mirror` (else WOPI_PROXY_DEBIAN_MIRROR, else deb.debian.org) serves debootstrap and apt-get."""
    mirror = mirror or os.environ.get("WOPI_PROXY_DEBIAN_MIRROR") or DEFAULT_MIRROR
    key = base_key(mirror)
    python_base = f"localhost/wopi-proxy-base/python:3.11-{SUITE}-{key}"
    if podman.image_exists(python_base):
        return python_base
    started = time.monotonic()
    debian = f"localhost/wopi-proxy-base/debian:{SUITE}-{key}"
    if not podman.image_exists(debian):
        _import_debootstrap(podman, debian, mirror, log)
    _say(log, f"building the Python base {python_base}")
    podman.run("build", "--format", "docker", "--network", "host", "--build-arg", f"DEBIAN={debian}",
               "--build-arg", f"MIRROR={mirror}",
               "-f", str(BASE_CONTAINERFILE), "-t", python_base, str(BASE_CONTAINERFILE.parent),
               timeout=BUILD_TIMEOUT_S)
    # The Debian root is only a step towards the Python base; older bases are left-overs (removed
    # when nothing uses them any more).
    stale = podman.run("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                       "reference=localhost/wopi-proxy-base/*", check=False).stdout.split()
    for name in [debian, *(n for n in stale if n != python_base)]:
        podman.run("rmi", name, check=False)
    _say(log, f"base ready in {time.monotonic() - started:.0f} s")
    return python_base


def _import_debootstrap(podman: Podman, tag: str, mirror: str, log: bool) -> None:
    if os.geteuid() != 0:
        raise ImageError("making the local base needs root (debootstrap); pass --base IMAGE instead")
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="debootstrap-", dir=cache) as work:
        rootfs = Path(work) / "rootfs"
        _say(log, f"debootstrap {SUITE} from {mirror}")
        _run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror], timeout=BUILD_TIMEOUT_S)
        _say(log, f"importing it as {tag}")
        with subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."],
                              stdout=subprocess.PIPE) as tar:
            assert tar.stdout is not None
            podman.run("import", "--change", f"ENV PATH={DEBIAN_PATH}", "--change", 'CMD ["/bin/bash"]',
                       "-", tag, stdin=tar.stdout.fileno(), timeout=600)
        if tar.returncode != 0:
            raise ImageError(f"tar of the debootstrap root failed (exit {tar.returncode})")


def build_images(podman: Podman, base: str | None, log: bool = True) -> dict[str, str]:
    """Builds both images on `base` (None: python:3.11-slim as the Dockerfiles say); role -> name."""
    extra: list[str] = ["--build-arg", f"BASE={base}"] if base else []
    if HOST_CA_BUNDLE.exists():
        # pip inside the build may go through a TLS-inspecting proxy that only the host's CAs know:
        # lend the bundle to the build steps (it stays out of the image) and point pip at it.
        extra += ["-v", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro", "--build-arg", f"PIP_CERT={HOST_CA_BUNDLE}"]
    for role, name in IMAGES.items():
        _say(log, f"building {name}")
        started = time.monotonic()
        # --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
        podman.run("build", "--format", "docker", "--network", "host", *extra,
                   "-f", str(ROOT / f"Dockerfile.{role}"), "-t", name, str(ROOT), timeout=BUILD_TIMEOUT_S)
        _say(log, f"built {name} in {time.monotonic() - started:.0f} s")
    # Each change of the sources leaves an untagged build stage and image behind: drop the older
    # ones (the last hour's stay, so an unchanged tree rebuilds from cache).
    podman.run("image", "prune", "--force", "--filter", "until=1h", check=False, timeout=300)
    return dict(IMAGES)


def _say(log: bool, message: str) -> None:
    if log:
        print(f"[container-images] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.container_images",
                                     description=(__doc__ or "").split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build both images (making the local base when needed)")
    build.add_argument("--base", help="base image with python3 >= 3.11 (default: the local debootstrap base)")
    build.add_argument("--install", action="store_true",
                       help="install podman, runc and debootstrap from Debian's packages when missing (root)")
    commands.add_parser("base", help="make the local base only and print its name")
    args = parser.parse_args(argv)
    try:
        if getattr(args, "install", False):
            install_tools()
        podman = Podman.for_this_machine()
        if args.command == "base":
            print(ensure_base(podman))
            return
        images = build_images(podman, args.base or ensure_base(podman))
    except ImageError as error:
        raise SystemExit(f"error: {error}") from None
    for name in images.values():
        print(name)


if __name__ == "__main__":
    main()
