// my-microservice: the application's source code. It lives next to its manifests
// (kubernetes/) and its infrastructure (infrastructure/), but it is not a manifest: gitops.yaml
// excludes this folder, and so must the ApplicationSet's git directory generator.
const http = require("http");
const { createClient } = require("redis");

const redis = createClient({
  socket: { host: process.env.REDIS_HOST, port: Number(process.env.REDIS_PORT) },
  password: process.env.REDIS_PASSWORD,
});

http
  .createServer(async (req, res) => {
    const hits = await redis.incr("hits");
    res.end(`hello from my-microservice (${hits} visits)\n`);
  })
  .listen(Number(process.env.PORT || 8080));

redis.connect();
