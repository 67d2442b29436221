// Processor simulator process (npm run simulator; started by npm start and by the tests).
import { loadConfig } from '../../config';
import { createDb } from '../../ledger/db';
import { createSimulatorApp } from './server';

const config = loadConfig();
if (!config.databaseUrl) throw new Error('DATABASE_URL is required (npm start sets it for the private cluster)');
const db = createDb(config.databaseUrl, { applicationName: 'processor-simulator' });
const server = createSimulatorApp({ db }).listen(config.simulatorPort, config.bindHost, () => {
  console.log(`processor simulator listening on http://${config.bindHost}:${config.simulatorPort}`);
});
const stop = () => server.close(() => { void db.destroy().then(() => process.exit(0)); });
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
