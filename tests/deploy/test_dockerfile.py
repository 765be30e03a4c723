"""deploy/docker/Dockerfile, checked offline (no Docker engine here; the image is not built
by CI): stages, pinned Debian bases, non-root USER, exec-form ENTRYPOINT, the build stage's
packages against scripts/install-deps.sh, and COPY sources that exist and are not ignored."""

from __future__ import annotations

import fnmatch
import re
import shlex

from conftest import REPO

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
IGNORE = REPO / "deploy" / "docker" / "Dockerfile.dockerignore"
# Packages of install-deps.sh the image build does not need: tests', tools', and the Python
# reader's C++ transport (pybind11-dev, python3-dev; the image holds the daemon only).
TEST_ONLY = {
    "git", "curl", "ca-certificates", "clang-format", "libgtest-dev", "libgmock-dev",
    "googletest", "libbenchmark-dev", "prometheus", "prometheus-node-exporter", "systemd",
    "python3", "python3-venv", "python3-pip", "clang", "libclang-rt-14-dev",
    "pybind11-dev", "python3-dev",
}  # fmt: skip


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in text.splitlines():
        s = line.strip()
        if not s or (s.startswith("#") and not buf):
            continue
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    assert not buf, "Dockerfile ends inside a line continuation"
    return out


def stages() -> list[list[tuple[str, str]]]:
    st: list[list[tuple[str, str]]] = []
    for ins in instructions(DOCKERFILE.read_text()):
        if ins[0] == "FROM":
            st.append([])
        assert st, f"{ins[0]} before the first FROM"
        st[-1].append(ins)
    return st


def test_multi_stage_build_on_debian_run_on_slim() -> None:
    st = stages()
    assert len(st) == 2
    build_from = st[0][0][1].split()
    run_from = st[-1][0][1].split()
    assert build_from == ["debian:12", "AS", "build"]
    assert run_from[0] == "debian:12-slim"
    # Every base is pinned to a release, never :latest or untagged.
    for s in st:
        image = s[0][1].split()[0]
        assert ":" in image and not image.endswith(":latest"), image
    # The runtime stage takes only the package from the build stage.
    copies = [a for i, a in st[-1] if i == "COPY"]
    assert copies == ["--from=build /pkg/promfeed.deb /tmp/promfeed.deb"]


def test_runs_as_non_root_with_exec_form_entrypoint() -> None:
    final = stages()[-1]
    users = [a for i, a in final if i == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, (
        "USER must be a numeric non-root uid (runAsNonRoot)"
    )
    assert gid.isdigit() and int(gid) != 0
    assert int(uid) == 65532  # the uid deploy/k8s runs as
    # Nothing after USER switches back to root.
    after = final[[i for i, _ in final].index("USER") :]
    assert all(i != "USER" or not a.startswith(("0", "root")) for i, a in after)
    (ep,) = [a for i, a in final if i == "ENTRYPOINT"]
    assert ep == '["/usr/bin/promfeed"]'
    (cmd,) = [a for i, a in final if i == "CMD"]
    assert "--grpc.listen-address=0.0.0.0:9401" in cmd
    assert {a for i, a in final if i == "EXPOSE"} == {"9400 9401"}


def install_deps_packages() -> set[str]:
    text = (REPO / "scripts" / "install-deps.sh").read_text()
    m = re.search(r"^PACKAGES=\((.*?)^\)", text, re.S | re.M)
    assert m, "PACKAGES=( ... ) not found in scripts/install-deps.sh"
    return set(m.group(1).split())


def test_build_stage_installs_every_build_library() -> None:
    (run,) = [a for i, a in stages()[0] if i == "RUN" and "apt-get install" in a]
    words = set(shlex.split(run.replace("&&", " ")))
    need = install_deps_packages() - TEST_ONLY
    missing = sorted(need - words)
    assert not missing, (
        f"deploy/docker/Dockerfile's build stage lacks {missing} (in scripts/install-deps.sh); "
        "add them, or list them in TEST_ONLY if only tests need them"
    )
    assert "dpkg-dev" in words  # dpkg-shlibdeps for the .deb's Depends


def ignored(rel: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(rel, p)
        or fnmatch.fnmatch(rel, p + "/*")
        or rel.startswith(p + "/")
        for p in patterns
    )


def test_copy_sources_exist_and_are_not_ignored() -> None:
    patterns = [
        p.strip().replace("**/", "")
        for p in IGNORE.read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    for i, args in stages()[0]:
        if i != "COPY":
            continue
        *srcs, _dest = args.split()
        for src in srcs:
            path = REPO / src
            assert path.exists(), f"COPY {src}: not in the repository"
            assert not ignored(src.rstrip("/"), patterns), (
                f"COPY {src} is excluded by {IGNORE}"
            )
    # Sources CMake reads must all be copied: every add_subdirectory of the top level.
    top = (REPO / "CMakeLists.txt").read_text()
    copied = " ".join(a for i, a in stages()[0] if i == "COPY")
    for sub in re.findall(r"^add_subdirectory\((\S+)\)", top, re.M):
        if sub.startswith("tests"):
            continue
        assert sub.split("/")[0] in copied, (
            f"add_subdirectory({sub}) is not copied into the image"
        )
