import os

# Tests run on CPU in float32; keep XLA from grabbing every core per process so
# that pytest-xdist workers share the machine.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
