// The baseline for start-up: a bare Fastify server answering /health, started the way portcullis is.
import Fastify from 'fastify';

const app = Fastify();
app.get('/health', async () => ({ status: 'SERVING' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ address }));
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
