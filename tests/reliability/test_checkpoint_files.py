"""ember.save and ember.load against the file system: symlinks written through, modes kept,
FIFOs/devices/directories refused before they are opened, stale temporary files removed, the
user's path in every message, and a huge file rejected from its header without reading it."""
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.io import CheckpointError, checkpoint, files

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file system semantics")

ROOT = os.geteuid() == 0


def _content(path):
    return ember.load(path)["version"]


# ---- symlinks ----------------------------------------------------------------------------------

def test_save_through_a_symlink_replaces_its_target(tmp_path):
    target = tmp_path / "epoch-9.safetensors"
    ember.save({"version": 1}, target)
    latest = tmp_path / "latest.safetensors"
    latest.symlink_to("epoch-9.safetensors")  # relative, as `ln -s` makes it
    ember.save({"version": 2}, latest)
    assert latest.is_symlink() and os.readlink(latest) == "epoch-9.safetensors"
    assert _content(target) == 2 and _content(latest) == 2
    assert sorted(os.listdir(tmp_path)) == ["epoch-9.safetensors", "latest.safetensors"]


def test_save_through_a_chain_of_symlinks_into_another_folder(tmp_path):
    (tmp_path / "store").mkdir()
    final = tmp_path / "store" / "weights.safetensors"
    ember.save({"version": 1}, final)
    (tmp_path / "middle").symlink_to(final)
    (tmp_path / "link").symlink_to(tmp_path / "middle")
    ember.save({"version": 2}, tmp_path / "link")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "middle").is_symlink()
    assert _content(final) == 2
    assert os.listdir(tmp_path / "store") == ["weights.safetensors"]  # no temporary left


def test_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "latest").symlink_to("epoch-1.safetensors")
    ember.save({"version": 1}, tmp_path / "latest")
    assert (tmp_path / "latest").is_symlink()
    assert _content(tmp_path / "epoch-1.safetensors") == 1


def test_symlink_loop_is_a_clear_error(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(CheckpointError, match=r"ember.save: cannot write '.*/a': "):
        ember.save({"version": 1}, tmp_path / "a")
    with pytest.raises(CheckpointError, match=r"ember.load: cannot read '.*/a': "):
        ember.load(tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


# ---- permissions -------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_existing_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "model.safetensors"
    ember.save({"version": 1}, path)
    os.chmod(path, mode)
    ember.save({"version": 2}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert _content(path) == 2


def test_mode_is_kept_through_a_symlink(tmp_path):
    target = tmp_path / "target.safetensors"
    ember.save({"version": 1}, target)
    os.chmod(target, 0o600)
    (tmp_path / "link").symlink_to(target)
    ember.save({"version": 2}, tmp_path / "link")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_new_file_follows_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        ember.save({"version": 1}, tmp_path / "new.safetensors")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "new.safetensors").st_mode) == 0o640


@pytest.mark.skipif(ROOT, reason="root may write read-only files")
def test_read_only_file_is_refused_and_kept(tmp_path):
    path = tmp_path / "frozen.safetensors"
    ember.save({"version": 1}, path)
    os.chmod(path, 0o444)
    with pytest.raises(CheckpointError, match="frozen.safetensors': the file is read-only"):
        ember.save({"version": 2}, path)
    assert _content(path) == 1


@pytest.mark.skipif(ROOT, reason="root may write anywhere")
def test_unwritable_folder_names_the_users_path(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        with pytest.raises(CheckpointError) as raised:
            ember.save({"version": 1}, folder / "model.safetensors")
    finally:
        os.chmod(folder, 0o700)
    assert str(raised.value) == (f"ember.save: cannot write '{folder / 'model.safetensors'}': "
                                 f"Permission denied")


# ---- non-regular files -------------------------------------------------------------------------

@pytest.mark.timeout(30)  # opening a FIFO blocks: a regression hangs instead of failing
def test_fifo_is_refused_for_save_and_load_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match=r"ember.save: '.*pipe' is a FIFO, not a regular"):
        ember.save({"version": 1}, fifo)
    with pytest.raises(CheckpointError, match=r"ember.load: '.*pipe' is a FIFO, not a regular"):
        ember.load(fifo)
    with pytest.raises(CheckpointError, match="is a FIFO"):
        ember.io.read_header(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


@pytest.mark.timeout(30)
def test_symlink_to_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to("pipe")
    with pytest.raises(CheckpointError, match="'.*link' is a FIFO"):
        ember.load(tmp_path / "link")
    with pytest.raises(CheckpointError, match="'.*link' is a FIFO"):
        ember.save({}, tmp_path / "link")


def test_device_is_refused_and_left_alone():
    with pytest.raises(CheckpointError, match="'/dev/null' is a character device"):
        ember.save({"version": 1}, "/dev/null")
    with pytest.raises(CheckpointError, match="'/dev/null' is a character device"):
        ember.load("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_directory_is_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(CheckpointError, match="'.*folder' is a directory, not a regular file"):
        ember.save({"version": 1}, tmp_path / "folder")
    with pytest.raises(CheckpointError, match="'.*folder' is a directory"):
        ember.load(tmp_path / "folder")
    assert os.listdir(tmp_path / "folder") == []


def test_missing_folder_is_a_clear_error(tmp_path):
    path = tmp_path / "no" / "such" / "model.safetensors"
    with pytest.raises(CheckpointError) as raised:
        ember.save({"version": 1}, path)
    assert str(raised.value) == (f"ember.save: cannot write '{path}': the folder "
                                 f"'{tmp_path / 'no' / 'such'}' does not exist")


def test_a_file_where_a_folder_should_be(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="cannot write '.*file/model.safetensors'"):
        ember.save({"version": 1}, tmp_path / "file" / "model.safetensors")


def test_bytes_and_long_paths(tmp_path):
    path = tmp_path / ("m" * 240 + ".safetensors")  # the temporary name must still fit
    ember.save({"version": 1}, os.fsencode(path))
    assert _content(os.fsencode(path)) == 1
    assert os.listdir(tmp_path) == [path.name]


# ---- stale temporary files ---------------------------------------------------------------------

def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # reaped: the pid names no process (reuse within the test is negligible)
    return process.pid


def _temporary_name(target, pid, token="0badc0de"):
    return f"{files._temporary_prefix(str(target))}{pid}.{token}.tmp"


def test_next_save_removes_temporaries_of_dead_writers_only(tmp_path):
    target = tmp_path / "model.safetensors"
    ember.save({"version": 1}, target)
    dead = _temporary_name(target, _dead_pid())
    # fit writes a new name every epoch: a killed save of another file is cleaned up too.
    other_target = _temporary_name(tmp_path / "epoch-003.safetensors", _dead_pid())
    alive = _temporary_name(target, os.getppid())  # pytest's parent: running
    another_host = "00000000" if files._host() != "00000000" else "11111111"
    other_host = f".model.safetensors.{another_host}-{_dead_pid()}.0badc0de.tmp"
    unrelated = [".model.safetensors.notes", f".notes.{files._host()}-12.tmp"]
    for name in (dead, other_target, alive, other_host, *unrelated):
        (tmp_path / name).write_bytes(b"partial")
    ember.save({"version": 2}, target)
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, alive, other_host, *unrelated])
    assert _content(target) == 2


def test_save_through_a_symlink_cleans_beside_the_target(tmp_path):
    (tmp_path / "store").mkdir()
    final = tmp_path / "store" / "weights.safetensors"
    ember.save({"version": 1}, final)
    stale = tmp_path / "store" / _temporary_name(final, _dead_pid())
    stale.write_bytes(b"partial")
    (tmp_path / "link").symlink_to(final)
    ember.save({"version": 2}, tmp_path / "link")
    assert not stale.exists()


# ---- messages name the user's path -------------------------------------------------------------

def test_write_errors_never_name_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"

    def failing_replace(source, destination):
        raise OSError(18, "Invalid cross-device link", source)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(CheckpointError) as raised:
        ember.save({"version": 1}, path)
    assert str(raised.value) == f"ember.save: cannot write '{path}': Invalid cross-device link"
    assert os.listdir(tmp_path) == []


# ---- huge files are judged by their header -----------------------------------------------------

def _count_reads(monkeypatch):
    counted = []
    original = files.read_into

    def counting(file, view):
        counted.append(len(view))
        return original(file, view)

    monkeypatch.setattr(checkpoint, "read_into", counting)
    return counted


@pytest.mark.parametrize("header_length", [2 ** 40, 5])
def test_twenty_gigabyte_file_with_a_bad_header_is_rejected_after_reading_it(
        tmp_path, monkeypatch, header_length):
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as file:
        file.write(header_length.to_bytes(8, "little") + b"{}garbage")
        file.truncate(20 * 2 ** 30)  # sparse: no disk space used
    counted = _count_reads(monkeypatch)
    with pytest.raises(CheckpointError, match="huge.safetensors' is not a valid checkpoint"):
        ember.load(path)
    assert sum(counted) == 8 + (header_length if header_length < 2 ** 40 else 0)


def test_header_that_does_not_match_the_file_size_reads_no_data(tmp_path, monkeypatch):
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as file:
        file.write(len(header).to_bytes(8, "little") + header)
        file.truncate(20 * 2 ** 30)
    counted = _count_reads(monkeypatch)
    with pytest.raises(CheckpointError, match="data section is .* bytes but the tensors describe "
                                              "16"):
        ember.load(path)
    assert sum(counted) == 8 + len(header)


def test_read_header_reads_only_the_header(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    ember.save({"w": ember.zeros(1000, 100)}, path)
    counted = _count_reads(monkeypatch)
    tensors, _ = ember.io.read_header(path)
    assert tensors == {"w": ("F32", (1000, 100))}
    assert sum(counted) < 1000  # 400,000 bytes of data are never read


def test_loaded_tensors_do_not_share_one_buffer(tmp_path):
    path = tmp_path / "model.safetensors"
    ember.save({"a": ember.ones(3), "b": ember.zeros(2)}, path)
    loaded = ember.load(path)
    assert not np.shares_memory(loaded["a"].numpy(), loaded["b"].numpy())
    assert loaded["a"].numpy().flags.writeable
