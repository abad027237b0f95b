"""`medimg data list --offline`: real files from installed packages, described with networking disabled."""

from __future__ import annotations

import json
import socket

import pytest

from medimg_kernel.cli import main


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("networking is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_offline_catalogue_lists_six_modalities_without_network(no_network, capsys):
    with pytest.raises(OSError):  # the guard works
        socket.create_connection(("127.0.0.1", 9))
    assert main(["data", "list", "--offline", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    mods = {r["modality"].split(" ")[0] for r in rows}
    assert {"CT", "MR", "US", "CR", "SEG", "fundus", "histopathology"} <= mods, mods
    by = {r["name"]: r for r in rows}
    assert by["pydicom-data-us-cine"]["shape"] == [120, 480, 640, 3]  # read from the header
    assert by["mni152"]["shape"] == [197, 233, 189]
    assert by["nilearn-fsaverage5"]["shape"] == [10242, 20480]  # vertices, triangles
    assert all(r["license"] and r["path"].startswith("/") for r in rows)
    assert main(["data", "list", "--offline"]) == 0
    text = capsys.readouterr().out
    assert "modalities, nothing downloaded" in text and "120×480×640×3" in text
