# Gunicorn settings for the pyprof demo app (examples/gunicorn_app/app.py).
# Use: gunicorn -c examples/gunicorn_app/gunicorn.conf.py --chdir examples/gunicorn_app app:app
# (the bind address comes from -b or PYPROF_DEMO_BIND).
import os

bind = os.environ.get("PYPROF_DEMO_BIND", "127.0.0.1:8000")
workers = 2                 # two sync worker processes, forked by the master
worker_class = "sync"
timeout = 30                # a worker silent for 30 s is killed and replaced
graceful_timeout = 5        # SIGTERM: workers get 5 s to finish their request
backlog = 256
accesslog = None            # no per-request log lines
loglevel = "warning"
