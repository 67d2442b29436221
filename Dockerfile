# One image for the API, the worker and the processor simulator (docker-compose.yml picks the command).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY config.ts tsconfig.json ./
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY ledger ledger
COPY processors processors
COPY workers workers
COPY api api
USER node
CMD ["node", "--import", "tsx", "api/main.ts"]
