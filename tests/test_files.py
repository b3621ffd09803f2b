import os
import stat

import pytest

from coursekit._files import atomic_write


def test_success_replaces_the_file_readable_by_all(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path, "w") as stream:
        stream.write("new")
        assert path.read_text() == "old"  # nothing visible until the block succeeds
    assert path.read_text() == "new"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert os.listdir(tmp_path) == ["out.txt"]


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path, error):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic_write(path) as stream:
            stream.write(b"half of the new")
            raise error
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_killed_writes_temporary_file_is_removed_by_the_next_write(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "out.bin"
    script = (
        "import sys, time\n"
        "from coursekit._files import atomic_write\n"
        f"with atomic_write({str(path)!r}) as stream:\n"
        "    stream.write(b'half'); stream.flush()\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        left = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
        assert len(left) == 1 and left[0].startswith(".out.bin.pid")
        # A write of another process while the first is alive keeps its temporary file.
        with atomic_write(path) as stream:
            stream.write(b"first")
        assert (tmp_path / left[0]).exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    time.sleep(0.05)
    with atomic_write(path) as stream:
        stream.write(b"second")
    assert sorted(os.listdir(tmp_path)) == ["out.bin"] and path.read_bytes() == b"second"


def test_old_temporary_files_are_removed_whoever_left_them(tmp_path):
    import time

    from coursekit._files import STALE_AFTER_SECONDS, remove_stale_temporaries

    path = tmp_path / "out.bin"
    old, recent = tmp_path / ".out.bin.x8k2_q1z.tmp", tmp_path / ".out.bin.a1b2c3d4.tmp"
    unrelated = tmp_path / ".other.bin.x8k2_q1z.tmp"
    for name in (old, recent, unrelated):
        name.write_bytes(b"")
    stale_time = time.time() - STALE_AFTER_SECONDS - 60
    os.utime(old, (stale_time, stale_time))
    os.utime(unrelated, (stale_time, stale_time))
    assert remove_stale_temporaries(path) == [old]
    assert sorted(os.listdir(tmp_path)) == sorted([recent.name, unrelated.name])
