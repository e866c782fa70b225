# Build: docker build -t interview-ledger .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin interview-ledger

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 ledger
COPY --from=build /src/target/release/interview-ledger /usr/local/bin/interview-ledger
USER ledger
ENV COMMAND_API_ADDR=0.0.0.0:8080 QUERY_API_ADDR=0.0.0.0:8081 LOG_FORMAT=json
EXPOSE 8080 8081
ENTRYPOINT ["interview-ledger"]
CMD ["serve"]
