"""The `crobook-warm` papermill engine: papermill runs each chapter in its worker's warm kernel (see
crobook.kernel), reset first. Imported by `crobook.kernel.run_chapter`, which registers it."""

from __future__ import annotations

import contextlib
import queue
import time

from jupyter_core.utils import ensure_async, run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines

from crobook.kernel import ENGINE, _in_use, _quiet, discard, kernel, reset_code


class WarmClient(PapermillNotebookClient):
    def papermill_execute_cells(self):
        reply = self.kc.execute_interactive(reset_code(), store_history=False, timeout=60, output_hook=_quiet)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"resetting the kernel failed: {reply['content'].get('evalue')}")
        super().papermill_execute_cells()

    async def async_start_new_kernel_client(self):
        """nbclient's, with a shorter wait for IOPub: jupyter_client waits until the channel has been quiet for
        0.2 s, a fifth of a short chapter's run; here the wait ends as soon as IOPub carries the status of a
        kernel_info request, which shows the channel is subscribed (ZeroMQ drops what is published before)."""
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        try:
            await self._wait_for_ready()
        except Exception:
            self.kc.stop_channels()
            raise
        self.kc.allow_stdin = False
        return self.kc

    async def _wait_for_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:  # the errors are jupyter_client's, which the retry in WarmEngine knows
            asked = self.kc.kernel_info()
            while True:
                if not await ensure_async(self.km.is_alive()):
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {self.startup_timeout:g} seconds")
                with contextlib.suppress(queue.Empty):
                    reply = await ensure_async(self.kc.get_shell_msg(timeout=0.5))
                    if reply["parent_header"].get("msg_id") == asked:
                        break
            with contextlib.suppress(queue.Empty):
                while True:
                    message = await ensure_async(self.kc.get_iopub_msg(timeout=0.05))
                    if message["parent_header"].get("msg_id") == asked:
                        return

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def execute(self, **kwargs):
        try:
            return super().execute(**kwargs)
        finally:
            if self.kc is not None:  # ours to close; the kernel stays for the next chapter
                self.kc.stop_channels()


class WarmEngine(NBClientEngine):
    @classmethod
    def execute_managed_notebook(
        cls, nb_man, kernel_name, log_output=False, start_timeout=60, execution_timeout=None, **_ignored
    ):
        with _in_use:
            for attempt in (1, 2):
                client = WarmClient(
                    nb_man,
                    km=kernel(kernel_name),
                    kernel_name=kernel_name,
                    timeout=execution_timeout,
                    startup_timeout=start_timeout,
                    log_output=log_output,
                )
                try:
                    return client.execute()
                except RuntimeError as err:
                    # The kernel did not answer before the chapter's first cell ("Kernel didn't respond in 60
                    # seconds", "Kernel died before replying to kernel_info"; seen rarely on a loaded machine):
                    # nothing has run yet, so the chapter starts once more in a new kernel.
                    if attempt == 2 or not str(err).startswith("Kernel d"):
                        raise
                    discard(kernel_name)


papermill_engines.register(ENGINE, WarmEngine)
