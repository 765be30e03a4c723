"""The .deb: built with cpack from ${BUILD_DIR}, inspected with dpkg-deb (control fields,
conffiles, maintainer scripts, file list), extracted, and its binaries run."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
import subprocess
import time
from collections.abc import Iterator
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
    # cpack packs the maintainer scripts cmake copied at configure time.
    for s in ("postinst", "prerm", "postrm"):
        packed = build_dir / "debian-control" / s
        if packed.read_bytes() != (REPO / "deploy/debian" / s).read_bytes():
            pytest.fail(
                f"{packed} is older than deploy/debian/{s}: run cmake --build {build_dir}"
            )
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
    # The unit is enabled with deb-systemd-helper (also in a chroot), started only when
    # systemd runs the machine.
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


# ---- The package installed for real: dpkg -i, reinstall/upgrade, remove, purge ---------------
# Needs root (CI runs the deploy tests as root on a fresh Debian 12 machine). Each test installs
# the package and purges it afterwards, even when it fails; the system user (which postrm keeps,
# as Debian does) is deleted too when the test created it.

CONF = Path("/etc/promfeed/promfeed.yml")
UNIT = "promfeed.service"
DSH_STATE = Path("/var/lib/systemd/deb-systemd-helper-enabled") / f"{UNIT}.dsh-also"
DSH_MASKED = Path("/var/lib/systemd/deb-systemd-helper-masked") / UNIT
WANTS = Path("/etc/systemd/system/multi-user.target.wants") / UNIT
MASK = Path("/etc/systemd/system") / UNIT


def sh(*argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs a command with stdin closed (dpkg must never prompt); retries while another dpkg or
    apt holds the dpkg lock (the machine may be installing something else)."""
    deadline = time.monotonic() + 300
    while True:
        out = subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )
        locked = "lock" in out.stderr and (
            "locked by another process" in out.stderr
            or "Could not get lock" in out.stderr
        )
        if not locked or time.monotonic() > deadline:
            break
        time.sleep(2)
    if check:
        assert out.returncode == 0, (
            f"{' '.join(map(str, argv))} exited {out.returncode}:\n{out.stdout}{out.stderr}"
        )
    return out


def dpkg_status(pkg: str = "promfeed") -> str:
    out = sh("dpkg-query", "-W", "-f=${Status}", pkg, check=False)
    return out.stdout.strip() if out.returncode == 0 else "not-installed"


def install(pkg: Path, *dpkg_opts: str) -> str:
    """dpkg -i; when a Depends is missing, apt-get installs the package with its dependencies."""
    out = sh("dpkg", *dpkg_opts, "-i", pkg, check=False)
    log = out.stdout + out.stderr
    if out.returncode != 0 and "dependency problems" in log:
        apt_opts = [f"-o=Dpkg::Options::={o}" for o in dpkg_opts]
        out = sh(
            "apt-get", "install", "-y", "-q", "--no-install-recommends", *apt_opts,
            pkg.resolve(),
        )  # fmt: skip
        log += out.stdout + out.stderr
    assert out.returncode == 0, log
    assert dpkg_status() == "install ok installed", log
    return log


def owner_mode(p: Path) -> tuple[str, str, int]:
    st = p.stat()
    return (
        pwd.getpwuid(st.st_uid).pw_name,
        grp.getgrgid(st.st_gid).gr_name,
        stat.S_IMODE(st.st_mode),
    )


@pytest.fixture
def installed(deb: Path) -> Iterator[str]:
    """The package installed with dpkg -i; yields dpkg's output. Purged afterwards."""
    if os.geteuid() != 0:
        pytest.skip("installing the .deb needs root (CI runs tests/deploy as root)")
    if dpkg_status() != "not-installed":
        pytest.fail(
            f"promfeed is already known to dpkg ({dpkg_status()}): this test installs and "
            "purges it; run `dpkg --purge promfeed` first"
        )
    if Path("/usr/bin/promfeed").exists():
        pytest.fail(
            "/usr/bin/promfeed exists outside the package; this test would replace it"
        )
    user_existed = (
        subprocess.run(
            ["getent", "passwd", "promfeed"], capture_output=True, check=False
        ).returncode
        == 0
    )
    try:
        yield install(deb)
    finally:
        sh("dpkg", "--purge", "promfeed", check=False)
        if not user_existed:
            sh("userdel", "promfeed", check=False)
            sh("groupdel", "promfeed", check=False)


def test_install_creates_user_config_and_enables_unit(installed: str) -> None:
    print(installed)
    assert dpkg_status() == "install ok installed"
    # The system user and group of postinst.
    user = sh("getent", "passwd", "promfeed").stdout.strip().split(":")
    group = sh("getent", "group", "promfeed").stdout.strip().split(":")
    print("getent passwd:", ":".join(user), "\ngetent group:", ":".join(group))
    uid, gid, home, shell = int(user[2]), int(user[3]), user[5], user[6]
    assert uid < 1000 and gid == int(group[2]), (user, group)  # a system account
    assert home == "/nonexistent" and shell.endswith("nologin"), user
    # The binaries on PATH.
    assert (
        sh("/usr/bin/promfeed", "--version").stdout.strip() == "promfeed, version 0.1.0"
    )
    assert sh("/usr/bin/promfeedctl", "--version").stdout.strip() == (
        "promfeedctl, version 0.1.0"
    )
    # The conffile: root:promfeed 0640, and the daemon's user can read and load it.
    assert owner_mode(CONF) == ("root", "promfeed", 0o640)
    sh(
        "setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups",
        "/usr/bin/promfeed", "check", "config", CONF,
    )  # fmt: skip
    files = sh("dpkg", "-L", "promfeed").stdout.splitlines()
    # The unit where the package says it is, and enabled (state recorded by
    # deb-systemd-helper even though no systemd runs here), never started.
    (unit,) = [f for f in files if f.endswith(f"/{UNIT}")]
    assert unit == f"/lib/systemd/system/{UNIT}", unit
    assert Path(unit).is_file()
    assert WANTS.is_symlink() and os.readlink(WANTS) == unit, WANTS
    assert str(WANTS) in DSH_STATE.read_text().split(), DSH_STATE.read_text()
    assert not MASK.exists()


def test_upgrade_keeps_a_modified_conffile(
    installed: str, deb: Path, tmp_path: Path
) -> None:
    local = CONF.read_text() + "# local change\n"
    CONF.write_text(local)
    # Reinstall the same version: nothing to ask, the local file stays.
    install(deb, "--force-confold")
    assert CONF.read_text() == local
    assert owner_mode(CONF) == ("root", "promfeed", 0o640)
    # Upgrade to a 0.1.1 whose shipped config changed too: with --force-confold dpkg keeps the
    # admin's file and leaves the new one beside it as .dpkg-dist.
    tree = tmp_path / "pkg"
    sh("dpkg-deb", "-R", deb, tree)
    control = tree / "DEBIAN/control"
    control.write_text(control.read_text().replace("Version: 0.1.0", "Version: 0.1.1"))
    shipped = tree / CONF.relative_to("/")
    shipped.write_text(shipped.read_text() + "# changed upstream\n")
    md5sums = tree / "DEBIAN/md5sums"
    if md5sums.exists():  # keep dpkg --verify happy
        lines = []
        for line in md5sums.read_text().splitlines():
            _, name = line.split(maxsplit=1)
            lines.append(
                f"{hashlib.md5((tree / name).read_bytes()).hexdigest()}  {name}"
            )
        md5sums.write_text("\n".join(lines) + "\n")
    new = tmp_path / "promfeed_0.1.1.deb"
    sh("dpkg-deb", "--root-owner-group", "-b", tree, new)
    log = install(new, "--force-confold")
    print(log)
    assert "0.1.1" in sh("dpkg-query", "-W", "-f=${Version}", "promfeed").stdout
    assert CONF.read_text() == local, log
    assert Path(f"{CONF}.dpkg-dist").read_text().endswith("# changed upstream\n")
    assert owner_mode(CONF) == ("root", "promfeed", 0o640)
    # The unit stays enabled across the upgrade.
    assert WANTS.is_symlink() and not MASK.exists()


def test_remove_reinstall_and_purge(installed: str, deb: Path) -> None:
    owned = [
        f for f in sh("dpkg", "-L", "promfeed").stdout.splitlines() if Path(f).is_file()
    ]
    assert "/usr/bin/promfeed" in owned and str(CONF) in owned
    # remove: the binaries go, the conffiles stay, postrm masks the unit.
    sh("dpkg", "-r", "promfeed")
    assert dpkg_status() == "deinstall ok config-files"
    assert not Path("/usr/bin/promfeed").exists() and CONF.exists()
    assert MASK.is_symlink() and os.readlink(MASK) == "/dev/null", MASK
    # Installed again: postinst lifts that mask and the unit is enabled again.
    install(deb)
    assert not MASK.exists() and not DSH_MASKED.exists()
    assert WANTS.is_symlink()
    # purge: every file of the package, its conffiles and the enablement state are gone; the
    # promfeed user stays (postrm: a reused uid must not inherit its files).
    out = sh("dpkg", "--purge", "promfeed")
    print(out.stdout + out.stderr)
    assert dpkg_status() == "not-installed"
    left = [f for f in owned if Path(f).exists()]
    assert not left, left
    assert not Path("/etc/promfeed").exists()
    assert not Path("/etc/default/promfeed").exists()
    for p in (WANTS, MASK, DSH_STATE, DSH_MASKED):
        assert not p.exists() and not p.is_symlink(), p
    assert sh("getent", "passwd", "promfeed", check=False).returncode == 0
