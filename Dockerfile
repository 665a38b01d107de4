# clt-kit in a container: `docker run clt-kit reproduce --figure 2`.
#
# Two stages on the same Debian release. `build` has the compilers (Debian's cargo and rustc),
# builds the Rust extension into a wheel with maturin and installs the locked dependencies
# (uv.lock) into /opt/clt-kit; `runtime` has Debian's python3 and that virtual environment only:
# no compilers, no package caches. torch is the PyPI build, so `docker run --gpus all` uses GPUs.
# Nothing is downloaded at run time: `docker run --network none clt-kit reproduce --figure 2` works.
#
# The base image is the official debian:trixie-slim; where no registry is reachable, `make
# docker-test` makes an image under that tag from Debian's packages (debootstrap + docker import).

ARG DEBIAN_IMAGE=debian:trixie-slim

FROM ${DEBIAN_IMAGE} AS build
ARG UV_VERSION=0.13.8
# Behind a TLS-intercepting proxy, its CA (PEM text): --build-arg EXTRA_CA_CERTS="$(cat ca.pem)".
# It is trusted in this stage only; the runtime stage never goes on the network.
ARG EXTRA_CA_CERTS=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends cargo rustc gcc libc6-dev python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" >/usr/local/share/ca-certificates/extra.crt && update-ca-certificates; fi
ENV UV_PYTHON=/usr/bin/python3 UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1 UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/clt-kit CARGO_HOME=/tmp/cargo \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python3 -m venv /opt/tools && /opt/tools/bin/pip install --no-cache-dir --quiet uv==${UV_VERSION}
WORKDIR /src

# The locked runtime dependencies first: this layer depends on pyproject.toml and uv.lock only, so
# it stays cached while the code or the docs change (pyproject names README.md: a stand-in here).
COPY pyproject.toml uv.lock ./
RUN touch README.md && /opt/tools/bin/uv sync --frozen --no-dev --no-install-project

# maturin from the lock's dev group (in a separate environment), then the wheel, then the kit.
COPY README.md Cargo.toml Cargo.lock build.rs ./
COPY rust rust
COPY python python
RUN UV_PROJECT_ENVIRONMENT=/opt/build /opt/tools/bin/uv sync --frozen --only-group dev --no-install-project \
 && /opt/build/bin/maturin build --release --locked --interpreter /usr/bin/python3 --out /wheels \
 && /opt/tools/bin/uv pip install --python /opt/clt-kit/bin/python --no-deps /wheels/*.whl

FROM ${DEBIAN_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* /var/cache/apt/*.bin \
 && useradd --create-home --uid 1000 --shell /usr/sbin/nologin clt \
 && mkdir /results && chown clt:clt /results
COPY --from=build /opt/clt-kit /opt/clt-kit
# Results (DuckDB file, figures, cached world/models/mixtures) go to the /results volume. Caches
# that libraries may write go under /tmp, so `--user "$(id -u):$(id -g)"` works as well.
ENV PATH=/opt/clt-kit/bin:$PATH CLT_KIT_RESULTS=/results MPLCONFIGDIR=/tmp/matplotlib \
    HF_HOME=/tmp/hf HF_HUB_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1
USER clt
WORKDIR /results
VOLUME /results
ENTRYPOINT ["clt-kit"]
CMD ["--help"]
