# The RTSP test feed of docker-compose.yml (`feed`): GStreamer's RTSP server under Debian's
# python3, which has `gi`. The packages are installed once, when the image is built, not at every
# start; they are the ones scripts/setup.sh installs for the same script on the host.
FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       python3-gi gir1.2-gst-rtsp-server-1.0 \
       gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
    && rm -rf /var/lib/apt/lists/*
COPY pipelines/rtsp_test_server.py /app/rtsp_test_server.py
ENV PYTHONUNBUFFERED=1
EXPOSE 8554
CMD ["python3", "/app/rtsp_test_server.py", "--address", "0.0.0.0", "--port", "8554", "--path", "live"]
