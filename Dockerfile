# bubblewatch image: Node 20, the built CLI, the SQL, both configurations and the bundled sample data.
# Its default configuration is the live one (config/live.yaml: every source from its publisher);
# the sample runs only when asked, with BUBBLEWATCH_CONFIG=/app/config/bubblewatch.yaml.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY pipelines ./pipelines
COPY bin ./bin
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production BUBBLEWATCH_LOG_FORMAT=json BUBBLEWATCH_CONFIG=/app/config/live.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY sql ./sql
COPY config ./config
# Read only by the sample configuration, never by the live default.
COPY data ./data
# Mount points owned by the unprivileged user, so named volumes start out writable by it:
#   /app/.bubblewatch  download cache (and the embedded database when no DATABASE_URL is set)
#   /app/inbox         drop-in folder for source files
RUN mkdir -p /app/.bubblewatch /app/inbox && chown node:node /app/.bubblewatch /app/inbox
USER node
ENTRYPOINT ["node", "/app/bin/bubblewatch.js"]
CMD ["--help"]
