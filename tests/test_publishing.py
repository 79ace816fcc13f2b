"""Publishing editions on fake staged editions (no book build): immutable names, `latest` and the index, and a
site that stays whole whatever stage of publishing a crash or a full disk hits. Plus the small command-line
defects: reserved edition names, `crobook diff ... latest`, a dirty commit in the index."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from crobook import site
from crobook.build import default_name, previous_edition
from crobook.data import DEFAULT_DATA_DIR
from crobook.errors import BuildError

CROBOOK = [sys.executable, "-m", "crobook.cli"]
POINTS = ["before-move", "after-move", "after-link", "writing-index", "after-index", "after-latest"]


def staged(tmp: Path, name: str, inputs: str = "a", **fields) -> Path:
    """A minimal finished edition, as a build leaves it in its work folder."""
    folder = tmp / f"staged-{name}-{inputs}-{time.monotonic_ns()}"
    (folder / "html").mkdir(parents=True)
    (folder / "html" / "index.html").write_text(f"<p>{name} {inputs}</p>", encoding="utf-8")
    (folder / "html" / "chapters").mkdir()
    (folder / "html" / "chapters" / "changes.html").write_text("<p>changes</p>", encoding="utf-8")
    (folder / "book.pdf").write_bytes(b"%PDF-1.5 " + name.encode())
    (folder / "data").mkdir()
    shutil.copy(DEFAULT_DATA_DIR / "observations.csv", folder / "data" / "observations.csv")
    manifest = {
        "edition": name,
        "built_at": "2026-11-28T10:00:00Z",
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "git_dirty": False,
        "fingerprint": "f" * 10,
        "inputs": inputs,
        "variant": False,
        "previous": None,
        "previous_id": None,
        "parameters": {},
        "data": {},
        "claims": {},
    } | fields
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def index_links(site_dir: Path) -> list[str]:
    return re.findall(r'href="([^"]+)"', (site_dir / "index.html").read_text(encoding="utf-8"))


def assert_whole(site_dir: Path, agree: bool = True) -> None:
    """Every edition the index lists is whole, every link of the index resolves, and `latest` resolves to the
    edition the index marks as latest (unless a crash came between writing the two: `agree` off)."""
    index = (site_dir / "index.html").read_text(encoding="utf-8")
    for href in index_links(site_dir):
        assert (site_dir / href).is_file(), href
    for name in re.findall(r'<tr><td><a href="([^"/]+)/html/index.html">', index):
        assert (site_dir / name / "html" / "index.html").is_file() and (site_dir / name / "book.pdf").is_file()
    assert (site_dir / "latest" / "html" / "index.html").is_file()
    if agree:
        marked = re.search(r'<a href="([^"/]+)/html/index.html">[^<]+</a> \(latest', index).group(1)
        assert os.readlink(site_dir / "latest") == marked


def listed(site_dir: Path) -> list[str]:
    """Edition names in the index's table, newest first."""
    return re.findall(r'<tr><td><a href="([^"/]+)/html/index.html">', (site_dir / "index.html").read_text("utf-8"))


def leftovers(site_dir: Path) -> list[str]:
    names = [*site_dir.glob(".work-*"), *site_dir.glob(".trash-*"), *site_dir.glob(".index-*")]
    names += [*site_dir.glob(".link-*"), *site_dir.glob(".staging-*")]
    return sorted(p.name for p in names)


def test_editions_are_listed_and_latest_in_order_of_publication(tmp_path):
    site_dir = tmp_path / "site"
    for name in ("b-first", "a-second", "c-third"):  # not alphabetical, and all built in the same second
        site.publish(staged(tmp_path, name), site_dir, name)
    assert listed(site_dir) == ["c-third", "a-second", "b-first"]
    assert os.readlink(site_dir / "latest") == "c-third"
    stamps = [m["published_at"] for m in site.editions(site_dir)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", s) for s in stamps)
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert (site_dir / "b-first").is_symlink() and (site_dir / "b-first" / "book.pdf").is_file()
    assert_whole(site_dir)


def test_a_name_built_from_other_inputs_is_refused_then_replaced_only_on_purpose(tmp_path):
    site_dir = tmp_path / "site"
    site.publish(staged(tmp_path, "one", "a"), site_dir, "one")
    site.publish(staged(tmp_path, "two", "a"), site_dir, "two")
    with pytest.raises(BuildError, match="already published from other inputs.*--replace"):
        site.publish(staged(tmp_path, "one", "b"), site_dir, "one")
    assert (site_dir / "one" / "html" / "index.html").read_text(encoding="utf-8") == "<p>one a</p>"
    site.publish(staged(tmp_path, "one", "b"), site_dir, "one", replace=True)
    assert (site_dir / "one" / "html" / "index.html").read_text(encoding="utf-8") == "<p>one b</p>"
    old = site.replaced(site_dir)
    assert [m["inputs"] for m in old] == ["a"]  # the replaced edition is kept...
    index = (site_dir / "index.html").read_text(encoding="utf-8")
    assert "Replaced editions" in index and f"_editions/{old[0]['id']}/html/index.html" in index  # ...and listed
    assert listed(site_dir) == ["one", "two"] and os.readlink(site_dir / "latest") == "one"
    assert_whole(site_dir)


def test_previous_is_the_latest_at_the_start_and_never_the_edition_itself(tmp_path):
    site_dir = tmp_path / "site"
    assert previous_edition(site_dir, "a") is None
    site.publish(staged(tmp_path, "a", "1"), site_dir, "a")
    assert previous_edition(site_dir, "a") is None  # its own rebuild: nothing before it
    before_b = previous_edition(site_dir, "b")
    site.publish(staged(tmp_path, "b", "1", previous="a", previous_id=before_b["id"]), site_dir, "b")
    # Replace "a" while "b" is latest: the new "a" follows "b", which followed the old "a", by folder
    before_a = previous_edition(site_dir, "a")
    assert before_a["edition"] == "b"
    site.publish(staged(tmp_path, "a", "2", previous="b", previous_id=before_a["id"]), site_dir, "a", replace=True)
    chain, current = [], site.edition(site_dir, "latest")
    while current is not None:  # the chain of previous editions ends: no loop
        assert current["id"] not in chain
        chain.append(current["id"])
        current = site.edition_folder(site_dir, current["previous_id"] or "")
    assert [c.split("-", 1)[1] for c in chain] == ["a", "b", "a"] and len(set(chain)) == 3
    # Rebuilding the latest edition compares it with what it followed, not with itself
    assert previous_edition(site_dir, "a")["edition"] == "b"


def test_a_variant_never_becomes_latest_unless_asked(tmp_path):
    site_dir = tmp_path / "site"
    site.publish(staged(tmp_path, "main"), site_dir, "main")
    site.publish(staged(tmp_path, "top10", variant=True), site_dir, "top10", may_be_latest=False)
    assert os.readlink(site_dir / "latest") == "main"
    assert previous_edition(site_dir, "next")["edition"] == "main"
    index = (site_dir / "index.html").read_text(encoding="utf-8")
    assert ">top10</a> (variant)" in index and ">main</a> (latest)" in index
    site.publish(staged(tmp_path, "top5", variant=True), site_dir, "top5", may_be_latest=True)
    assert os.readlink(site_dir / "latest") == "top5"
    assert ">top5</a> (latest, variant)" in (site_dir / "index.html").read_text(encoding="utf-8")
    assert_whole(site_dir)


PUBLISH = """
import sys
from pathlib import Path
from crobook import site
from crobook.errors import BuildError
try:
    site.publish(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], replace=sys.argv[4] == "replace")
except BuildError as err:
    print(err, file=sys.stderr)
    sys.exit(1)
"""


def publish_in_subprocess(tmp_path, site_dir, name, inputs, fault, replace=False, **popen):
    env = os.environ | {"CROBOOK_FAULT": fault, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    command = [sys.executable, "-c", PUBLISH, str(staged(tmp_path, name, inputs)), str(site_dir), name]
    command.append("replace" if replace else "keep")
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.fixture
def two_editions(tmp_path) -> Path:
    site_dir = tmp_path / "site"
    site.publish(staged(tmp_path, "old"), site_dir, "old")
    site.publish(staged(tmp_path, "mid"), site_dir, "mid")
    return site_dir


@pytest.mark.parametrize("replace", [False, True], ids=["new-name", "replacing"])
@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_any_stage_of_publishing_leaves_the_site_whole_and_the_next_build_repairs_it(
    two_editions, tmp_path, point, replace
):
    site_dir, name = two_editions, ("old" if replace else "new")
    process = publish_in_subprocess(tmp_path, site_dir, name, "b", f"publish:{point}:exit", replace)
    process.communicate(timeout=60)
    assert process.returncode == 137  # died at the fault
    assert_whole(site_dir, agree=point != "after-index")
    assert (site_dir / "old" / "book.pdf").is_file() and (site_dir / "mid" / "book.pdf").is_file()
    published = (site_dir / name).is_symlink() and (site_dir / name / "html" / "index.html").read_text() == (
        f"<p>{name} b</p>"
    )
    assert published == (point not in ("before-move", "after-move"))
    # The next build (here: the repair every build starts with) removes what was left and updates the index
    with site.site_lock(site_dir):
        site.repair(site_dir)
    assert leftovers(site_dir) == []
    assert listed(site_dir) == ([name] if published else []) + [n for n in ("mid", "old") if n != name or not published]
    assert os.readlink(site_dir / "latest") == (name if published else "mid")
    kept = list((site_dir / site.STORE).iterdir())
    assert len(kept) == 2 + published  # no orphan folder: the two editions, and the new or the replaced one
    assert len(site.replaced(site_dir)) == (1 if replace and published else 0)
    assert_whole(site_dir)


def test_a_publish_killed_with_sigkill_while_moving_in_leaves_the_site_whole(two_editions, tmp_path):
    process = publish_in_subprocess(tmp_path, two_editions, "new", "b", "publish:after-move:pause")
    assert process.stdout.readline().strip() == "fault publish:after-move"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert_whole(two_editions)
    assert listed(two_editions) == ["mid", "old"] and not (two_editions / "new").exists()
    site.publish(staged(tmp_path, "later"), two_editions, "later")  # the next publish cleans up first
    assert len(list((two_editions / site.STORE).iterdir())) == 3 and leftovers(two_editions) == []
    assert_whole(two_editions)


def test_a_full_disk_after_the_edition_is_published_says_so_and_the_next_build_repairs_the_index(
    two_editions, tmp_path
):
    process = publish_in_subprocess(tmp_path, two_editions, "new", "b", "publish:writing-index:enospc")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "edition new is published, but latest and the index could not be updated" in err
    assert "no space left" in err and "Traceback" not in err
    assert (two_editions / "new" / "book.pdf").is_file() and "new" not in listed(two_editions)
    assert leftovers(two_editions) == []  # no empty .index-*.html
    with site.site_lock(two_editions):
        site.repair(two_editions)
    assert listed(two_editions) == ["new", "mid", "old"]
    assert_whole(two_editions)


def test_a_full_disk_before_the_edition_is_linked_leaves_the_site_as_it_was(two_editions, tmp_path):
    before = (two_editions / "index.html").read_bytes()
    process = publish_in_subprocess(tmp_path, two_editions, "new", "b", "publish:after-move:enospc")
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0 and "No space left" in err
    assert (two_editions / "index.html").read_bytes() == before and not (two_editions / "new").exists()
    assert len(list((two_editions / site.STORE).iterdir())) == 2  # the moved-in folder was taken out again


def test_leftovers_of_dead_builds_are_removed_but_not_a_running_builds_work_folder(two_editions):
    dead, running = two_editions / ".work-dead", two_editions / ".work-running"
    for folder in (dead, running, two_editions / ".trash-old"):
        (folder / "edition").mkdir(parents=True)
    (dead / ".lock").write_text("", encoding="utf-8")  # its build died: nothing holds the lock
    (two_editions / ".index-0123.html").write_text("", encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from pathlib import Path; from crobook import site\n"
         "with site.work_folder_held(Path(sys.argv[1])): print('held', flush=True); time.sleep(60)", str(running)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with site.site_lock(two_editions):
            site.repair(two_editions)
        assert leftovers(two_editions) == [".work-running"]
    finally:
        holder.kill()
        holder.wait()


def test_a_site_of_the_earlier_layout_is_moved_into_editions_folders(tmp_path):
    site_dir = tmp_path / "site"
    for name, built in (("0.1.0", "2026-11-01T10:00:00Z"), ("0.0.9", "2026-10-01T10:00:00Z")):
        shutil.copytree(staged(tmp_path, name, built_at=built), site_dir / name)
    (site_dir / "latest").symlink_to("0.1.0")
    with site.site_lock(site_dir):
        site.repair(site_dir)
    assert listed(site_dir) == ["0.1.0", "0.0.9"] and (site_dir / "0.0.9").is_symlink()
    assert_whole(site_dir)


def test_the_index_flags_a_build_from_uncommitted_changes(tmp_path):
    site_dir = tmp_path / "site"
    site.publish(staged(tmp_path, "clean"), site_dir, "clean")
    site.publish(staged(tmp_path, "dirty", git_dirty=True), site_dir, "dirty")
    rows = (site_dir / "index.html").read_text(encoding="utf-8").split("<tr>")
    assert "uncommitted changes" in next(r for r in rows if ">dirty</a>" in r)
    assert "uncommitted changes" not in next(r for r in rows if ">clean</a>" in r)


def test_git_commit_reports_uncommitted_changes(tmp_path):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("1")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    commit, dirty = site.git_commit(tmp_path)
    assert re.fullmatch(r"[0-9a-f]{40}", commit) and dirty is False
    (tmp_path / "f").write_text("2")
    assert site.git_commit(tmp_path) == (commit, True)


def test_diff_with_latest_names_the_edition(tmp_path):
    site_dir = tmp_path / "site"
    site.publish(staged(tmp_path, "first"), site_dir, "first")
    site.publish(staged(tmp_path, "second"), site_dir, "second")
    result = subprocess.run(
        [*CROBOOK, "diff", "first", "latest", "--site", str(site_dir)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No change from edition first to edition second."


def test_an_empty_edition_name_is_refused_in_one_line(tmp_path):
    result = subprocess.run(
        [*CROBOOK, "build", "--site", str(tmp_path / "site"), "--edition", ""], capture_output=True, text=True
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith('build failed: edition name "" is not allowed')
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "site").exists()


@pytest.mark.parametrize("name", ["latest", "index.html", ".hidden", "a/b", "_editions", "x" * 65])
def test_reserved_edition_names_are_refused_before_anything_is_done(name, tmp_path):
    from crobook.build import build

    with pytest.raises(BuildError, match="is not allowed"):
        build(site_dir=tmp_path / "site", edition_name=name)
    assert not (tmp_path / "site").exists()


def test_the_default_edition_name_changes_with_the_data():
    from datetime import date

    from crobook import __version__

    assert default_name("0123456789", date(2026, 6, 30)) == f"{__version__}-2026-06-30-0123456789"
    assert site.check_edition_name(default_name("0123456789", date(2026, 6, 30)))


def test_a_cache_folder_removed_during_a_build_only_costs_a_rerun(tmp_path):
    from crobook.cache import ChapterCache

    out = tmp_path / "out"
    (out / "views").mkdir(parents=True)
    for ext in ("csv", "json"):
        (out / "views" / f"view.{ext}").write_text("1", encoding="utf-8")
    (out / "ch.ipynb").write_text("{}", encoding="utf-8")
    cache = ChapterCache(tmp_path / "cache")
    cache.store("ch", "k1", out, ["a.csv"], ["view"])
    shutil.rmtree(tmp_path / "cache")
    assert cache.reads("ch") is None and cache.restore("ch", "k1", tmp_path / "elsewhere") is False
    cache.store("ch", "k2", out, ["a.csv"], ["view"])  # the folder is made again
    assert cache.restore("ch", "k2", tmp_path / "again") and (tmp_path / "again" / "views" / "view.csv").is_file()


@pytest.fixture
def quick_build(monkeypatch):
    """`crobook.build.build` with the chapters, Sphinx and TeX replaced by a fake edition: everything around
    them (names, up to date, refusal, previous, variants, publishing) runs for real, in seconds."""
    from crobook import build as building

    def fake_build_in(work, evidence, sources, params, params_file, edition, record, previous, site_dir, force, pool):
        folder = staged(work, edition.name)
        (folder / "manifest.json").write_text(json.dumps(record), encoding="utf-8")
        return folder

    monkeypatch.setattr(building, "_build_in", fake_build_in)
    # No chapter runs, so no worker processes and kernels to start and stop.
    monkeypatch.setattr(building, "start_pool", lambda chapter_count: ThreadPoolExecutor(1))
    monkeypatch.setattr(building, "check_tools", lambda: None)
    return building.build


def test_new_data_makes_a_new_default_edition_and_never_overwrites_one(quick_build, data_copy, tmp_path, capsys):
    site_dir = tmp_path / "site"
    first = quick_build(site_dir=site_dir).name
    assert re.fullmatch(r"\d+\.\d+\.\d+-\d{4}-\d\d-\d\d-[0-9a-f]{10}", first)
    assert quick_build(site_dir=site_dir).name == first and "up to date" in capsys.readouterr().out
    observations = data_copy / "observations.csv"
    observations.write_text(
        observations.read_text(encoding="utf-8").replace(
            "ebp_share_rd_pipeline,2021,65,", "ebp_share_rd_pipeline,2021,55,"
        ),
        encoding="utf-8",
    )
    second = quick_build(data_dir=data_copy, site_dir=site_dir).name
    assert second != first and listed(site_dir) == [second, first]
    assert site.edition(site_dir, second)["previous"] == first and os.readlink(site_dir / "latest") == second
    with pytest.raises(BuildError, match=f"edition {first} is already published from other inputs"):
        quick_build(data_dir=data_copy, site_dir=site_dir, edition_name=first)
    quick_build(data_dir=data_copy, site_dir=site_dir, edition_name=first, replace=True)
    replaced_first = site.edition(site_dir, first)
    assert replaced_first["previous"] == second  # the latest when it started, not itself
    assert [m["edition"] for m in site.replaced(site_dir)] == [first]
    assert_whole(site_dir)


def test_a_variant_build_stays_beside_the_main_line(quick_build, tmp_path):
    site_dir = tmp_path / "site"
    main = quick_build(site_dir=site_dir).name
    params = tmp_path / "top10.yaml"
    from crobook.build import DEFAULT_PARAMS

    params.write_text(DEFAULT_PARAMS.read_text(encoding="utf-8").replace("top_n: 20", "top_n: 10"), encoding="utf-8")
    quick_build(params_file=params, site_dir=site_dir, edition_name="top10", variant=True)
    assert os.readlink(site_dir / "latest") == main and site.edition(site_dir, "top10")["variant"] is True
    assert ">top10</a> (variant)" in (site_dir / "index.html").read_text(encoding="utf-8")
    quick_build(params_file=params, site_dir=site_dir, edition_name="top10-latest", variant=True, latest=True)
    assert os.readlink(site_dir / "latest") == "top10-latest"


def test_a_code_change_alone_gives_the_next_default_name_never_a_refusal(quick_build, tmp_path, monkeypatch):
    """Same data and parameters, other code (here: another inputs digest): `make book` publishes `<name>-2`
    beside `<name>`, which stays as it was."""
    from crobook import build as building

    site_dir = tmp_path / "site"
    first = quick_build(site_dir=site_dir).name
    digest = building.inputs_digest
    monkeypatch.setattr(building, "inputs_digest", lambda edition: digest(edition) + "-new-code")
    second = quick_build(site_dir=site_dir).name
    assert second == f"{first}-2" and listed(site_dir) == [second, first]
    assert quick_build(site_dir=site_dir).name == second  # and now that one is up to date
    assert_whole(site_dir)
