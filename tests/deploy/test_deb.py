"""The .deb: built with cpack from ${BUILD_DIR}, inspected with dpkg-deb (control fields,
conffiles, maintainer scripts, file list), extracted, and its binaries run."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import REPO


def run(*argv: str | Path, cwd: Path | None = None) -> str:
    out = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert out.returncode == 0, (
        f"{' '.join(map(str, argv))} failed:\n{out.stdout}{out.stderr}"
    )
    return out.stdout


@pytest.fixture(scope="module")
def deb(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    run(
        "cpack",
        "-G",
        "DEB",
        "-B",
        out,
        "--config",
        build_dir / "CPackConfig.cmake",
        cwd=build_dir,
    )
    (pkg,) = out.glob("promfeed_*.deb")
    return pkg


def field(info: str, name: str) -> str:
    for line in info.splitlines():
        if line.strip().startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name}: in\n{info}")


def test_control_fields_and_shlib_depends(deb: Path) -> None:
    info = run("dpkg-deb", "-I", deb)
    assert field(info, "Package") == "promfeed"
    assert field(info, "Version") == "0.1.0"
    depends = field(info, "Depends")
    # From dpkg-shlibdeps: the gRPC and protobuf runtime libraries, plus adduser for postinst.
    assert "adduser" in depends
    assert "libgrpc++1.51" in depends and "libprotobuf32" in depends, depends
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        assert script in info, f"{script} missing from the control archive:\n{info}"


def test_conffiles_and_maintainer_scripts(deb: Path, tmp_path: Path) -> None:
    ctl = tmp_path / "DEBIAN"
    run("dpkg-deb", "-e", deb, ctl)
    conffiles = (ctl / "conffiles").read_text().split()
    assert "/etc/promfeed/promfeed.yml" in conffiles
    if (REPO / "deploy/systemd/promfeed.default").exists():
        assert "/etc/default/promfeed" in conffiles
    for s in ("postinst", "prerm", "postrm"):
        assert (ctl / s).stat().st_mode & 0o111, f"{s} is not executable"
        run("sh", "-n", ctl / s)
    post = (ctl / "postinst").read_text()
    assert "adduser --system" in post
    # The unit is enabled only when systemd runs the machine.
    assert "[ -d /run/systemd/system ]" in post and "deb-systemd-helper enable" in post


def test_file_list(deb: Path) -> None:
    files = {line.split()[-1] for line in run("dpkg-deb", "-c", deb).splitlines()}
    for f in (
        "./usr/bin/promfeed",
        "./usr/bin/promfeedctl",
        "./etc/promfeed/promfeed.yml",
    ):
        assert f in files, f"{f} not in the package:\n" + "\n".join(sorted(files))
    if (REPO / "deploy/systemd/promfeed.service").exists():
        assert "./lib/systemd/system/promfeed.service" in files
    assert not any("/usr/local" in f or "/include/" in f for f in files), sorted(files)


def test_extracted_binaries_run(deb: Path, tmp_path: Path) -> None:
    run("dpkg-deb", "-x", deb, tmp_path)
    assert (
        run(tmp_path / "usr/bin/promfeed", "--version").strip()
        == "promfeed, version 0.1.0"
    )
    assert run(tmp_path / "usr/bin/promfeedctl", "--version").strip() == (
        "promfeedctl, version 0.1.0"
    )
    # The shipped config is valid as shipped.
    run(
        tmp_path / "usr/bin/promfeed",
        "check",
        "config",
        tmp_path / "etc/promfeed/promfeed.yml",
    )
