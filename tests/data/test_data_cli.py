"""``medimg data`` sub-commands: JSON listing of the real registry, fetch/verify/pack/unpack/path, errors."""

from __future__ import annotations

import json
import subprocess
import sys

from medimg_kernel.cli import main


def _run(capsys, *argv):
    """Run ``medimg data ARGV``; ``err`` is the error line(s) the CLI itself printed."""
    rc = main(["data", *argv])
    out, err = capsys.readouterr()
    return rc, out, "".join(line + "\n" for line in err.splitlines() if line.startswith("medimg:"))


def test_list_json_has_the_real_registry(capsys):
    rc, out, _ = _run(capsys, "list", "--json")
    assert rc == 0
    rows = {r["name"]: r for r in json.loads(out)}
    for r in rows.values():
        assert {"name", "license", "cached", "files"} <= set(r)
    mednist = rows["mednist"]
    assert mednist["files"][0]["md5"] == "0bc7306e7427e00ad1c5526a6677552d"
    assert mednist["files"][0]["sha256"] == "f2f4881ff8799a170b10a403495f0ce0ad7486491901cde67a647e6627e7f916"
    assert mednist["files"][0]["urls"][0].startswith("https://github.com/Project-MONAI/")
    msd = [r for r in rows.values() if r["loader"] == "msd"]
    assert len(msd) == 10 and all(f["md5"] and f["urls"] for r in msd for f in r["files"])
    assert rows["msd-spleen"]["files"][0]["md5"] == "410d4a301da4e5b2f6f86ec3ddba524e"
    flags = {r["options"]["flag"] for r in rows.values() if r["loader"] == "medmnist"}
    assert len(flags) == 18
    sizes = {(r["options"]["flag"], r["options"]["size"]) for r in rows.values() if r["loader"] == "medmnist"}
    assert len(sizes) == 12 * 4 + 6 * 2
    assert rows["dermamnist"]["license"] == "CC BY-NC 4.0"
    assert {"ixi-t1", "ixi-t2", "ixi-pd"} <= set(rows)
    assert rows["synthetic-lesions2d"]["cached"] is True and rows["mednist"]["cached"] is False


def test_fetch_verify_path_pack_unpack(capsys, manifest, data_dir, http_server, tmp_path):
    m = ["--manifest", str(manifest), "--data-dir", str(data_dir)]
    rc, out, _ = _run(
        capsys, "fetch", "test-medmnist", "--mirror", f"{http_server.url}/mirror", "--quiet", *m
    )
    assert rc == 0 and out.strip() == str(data_dir / "test-medmnist")
    assert [r["path"] for r in http_server.state.log] == ["/mirror/pneumoniamnist.npz"]
    rc, out, _ = _run(capsys, "list", "--json", *m)
    assert {r["name"]: r["cached"] for r in json.loads(out)}["test-medmnist"] is True
    rc, out, _ = _run(capsys, "verify", "--json", *m)
    assert rc == 0 and [(r["dataset"], r["status"]) for r in json.loads(out)] == [("test-medmnist", "ok")]
    rc, out, _ = _run(capsys, "path", "test-medmnist", *m)
    assert out.strip() == str(data_dir / "test-medmnist")
    rc, out, _ = _run(capsys, "info", "test-medmnist", *m)
    assert rc == 0 and "pneumoniamnist.npz" in out and "sha256:" in out
    pack_file = tmp_path / "p.medimgpack"
    assert _run(capsys, "pack", "test-medmnist", "-o", str(pack_file), *m)[0] == 0
    other = tmp_path / "other"
    rc, out, _ = _run(capsys, "unpack", str(pack_file), "--manifest", str(manifest), "--data-dir", str(other))
    assert rc == 0 and out.split() == ["test-medmnist"]
    (data_dir / "test-medmnist" / "pneumoniamnist.npz").write_bytes(b"broken")
    rc, out, err = _run(capsys, "verify", *m)
    assert rc == 1 and "corrupt" in out and err.count("\n") == 1


def test_failures_exit_nonzero_with_one_line(capsys, manifest, data_dir, down_url):
    rc, _, err = _run(capsys, "info", "mednistt")
    assert rc == 2 and err.count("\n") == 1 and "did you mean mednist" in err
    rc, _, err = _run(
        capsys, "fetch", "test-badhash", "--quiet", "--manifest", str(manifest), "--data-dir", str(data_dir)
    )
    assert rc == 2 and err.count("\n") == 1 and "hash" in err
    rc, _, err = _run(
        capsys,
        "fetch",
        "test-medmnist",
        "--quiet",
        "--retries",
        "0",
        "--mirror",
        f"{down_url}/m",
        "--manifest",
        str(manifest),
        "--data-dir",
        str(data_dir / "x"),
    )
    assert rc == 0  # the mirror is down, the origin still works
    rc, _, err = _run(
        capsys,
        "pack",
        "test-big",
        "-o",
        str(data_dir / "x.pack"),
        "--manifest",
        str(manifest),
        "--data-dir",
        str(data_dir),
    )
    assert rc == 2 and "medimg data fetch test-big" in err


def test_console_script_lists_json():
    proc = subprocess.run(
        [sys.executable, "-m", "medimg_kernel", "data", "list", "--json", "--source", "synthetic"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert {r["name"] for r in json.loads(proc.stdout)} >= {
        "synthetic-mednist",
        "synthetic-lesions2d",
        "synthetic-brain-tissue",
        "synthetic-lesions3d",
    }
