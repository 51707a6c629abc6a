"""What tests, demos and benchmarks start beside a run: a private ``redis-server`` and the RTSP
test feed, each on a free loopback port and stopped by PID. The pipeline never imports these."""
