"""Run a moto server in-process, tied to the life of a parent process.

Usage: python3 moto_guard.py <parent_pid> <port>

- <port> 0 lets the kernel pick a free loopback port (no race between picking
  and binding). The bound port is printed on stdout as the first line,
  `MOTO_PORT=<port>`, once the server accepts connections.
- <parent_pid> > 0: the guard polls every 0.5 s and exits as soon as that
  process is gone (or this process was re-parented). The end-to-end test
  library keeps its moto in a `static`, which is never dropped, so this poll
  is what stops the server when the test binary exits, panics or is killed.
  <parent_pid> 0 means "run until SIGTERM/SIGINT" (scripts/moto-server).

Environment:
- MOTO_GUARD_CLEANUP: os.pathsep-separated files to delete on exit (the
  server log and the recorder file), unless KEEP_MOTO_LOGS=1.
- MOTO_RECORDER_FILEPATH: read by moto itself: where the request recorder
  appends (its default is ./moto_recording, inside the work tree).
- MOTO_AWS_BEHAVIOURS=1: patch in the AWS behaviours moto lacks (aws_behaviours.py:
  draining, lifecycle hooks, deregistered AMIs, resolve:ssm: images); their steps go to
  MOTO_BEHAVIOUR_LOG. Also the group settings moto drops (aws_shapes.py: instance
  maintenance policy, default instance warm-up), and warm pool instances
  (aws_warm_pools.py).
- Always: Auto Scaling requests are served one at a time (serialize_auto_scaling).

The server only ever binds 127.0.0.1.
"""

import os
import signal
import sys
import time


def cleanup_and_exit(code: int = 0) -> None:
    if os.environ.get("KEEP_MOTO_LOGS") != "1":
        for path in filter(None, os.environ.get("MOTO_GUARD_CLEANUP", "").split(os.pathsep)):
            try:
                os.remove(path)
            except OSError:
                pass
    # os._exit: do not wait for the server's threads (they are daemons anyway)
    # nor run interpreter teardown while requests may be in flight.
    os._exit(code)


def parent_alive(parent_pid: int, original_ppid: int) -> bool:
    if os.getppid() != original_ppid:
        return False  # re-parented: our parent is gone
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else (cannot happen for our parent, but harmless)
    return True


def serialize_auto_scaling() -> None:
    """Serves one Auto Scaling request at a time.

    moto's server handles each request on its own thread, and its group model is not safe
    for that: two TerminateInstanceInAutoScalingGroup calls on one group at once (a release
    terminates a batch's instances a few at a time) each rebuild the group's instance list
    from what they read, so one change is lost and the call answers 500 on every retry. On
    AWS each call changes the group atomically.
    """
    import threading

    from moto.autoscaling.responses import AutoScalingResponse

    lock = threading.RLock()
    original = AutoScalingResponse.call_action

    def call_action(self):
        with lock:
            return original(self)

    AutoScalingResponse.call_action = call_action


def main() -> None:
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    parent_pid = int(sys.argv[1])
    port = int(sys.argv[2])

    signal.signal(signal.SIGTERM, lambda *_: cleanup_and_exit(0))
    signal.signal(signal.SIGINT, lambda *_: cleanup_and_exit(0))

    original_ppid = os.getppid()
    if parent_pid > 0 and not parent_alive(parent_pid, original_ppid):
        cleanup_and_exit(0)

    from moto.server import ThreadedMotoServer  # slow import: after the argument checks

    serialize_auto_scaling()

    if os.environ.get("MOTO_AWS_BEHAVIOURS") == "1":
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import aws_behaviours

        aws_behaviours.install()
        import aws_shapes

        aws_shapes.install()
        import aws_warm_pools

        aws_warm_pools.install()

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()  # returns once the socket is bound and listening
    _, bound_port = server.get_host_and_port()
    sys.stdout.write(f"MOTO_PORT={bound_port}\n")
    sys.stdout.flush()
    # Nothing else goes to stdout: whoever started us may close the pipe now.
    # Send anything that moto might print there to stderr (the log) instead.
    os.dup2(2, 1)

    while True:
        time.sleep(0.5)
        if parent_pid > 0 and not parent_alive(parent_pid, original_ppid):
            cleanup_and_exit(0)


if __name__ == "__main__":
    main()
