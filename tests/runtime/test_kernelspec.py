"""The course kernelspec installs, is listed by Jupyter, and starts with the extension loaded."""

import json
import os
import subprocess
import sys

from jupyter_client.manager import start_new_kernel


def test_kernel_install_list_and_start(tmp_path):
    prefix = tmp_path / "prefix"
    res = subprocess.run([sys.executable, "-m", "medimg_kernel", "kernel", "install", "--prefix", str(prefix)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    spec_dir = prefix / "share" / "jupyter" / "kernels" / "medimg"
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["display_name"] == "Python 3 (medimg)"
    assert "--ext=medimg_kernel" in spec["argv"]

    env = {**os.environ, "JUPYTER_PATH": str(prefix / "share" / "jupyter")}
    listing = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list"], capture_output=True,
                             text=True, env=env, timeout=60)
    assert "medimg" in listing.stdout and str(spec_dir) in listing.stdout

    os.environ["JUPYTER_PATH"] = env["JUPYTER_PATH"]
    try:
        km, kc = start_new_kernel(kernel_name="medimg")
        try:
            outputs = []
            kc.execute_interactive("%medimg tier smoke\nimport os; print(os.environ['MEDIMG_KERNEL'])",
                                   timeout=120, output_hook=lambda m: outputs.append(m))
            text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
            assert "tier set to smoke" in text  # the %medimg magic exists: extension loaded
            assert text.strip().endswith("1")  # course environment variables are set
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    finally:
        del os.environ["JUPYTER_PATH"]
