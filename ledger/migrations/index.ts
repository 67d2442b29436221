// Migrations are listed here explicitly (not discovered from the file system), so they load the same way
// under tsx, vitest and a bundler. Append new ones; never edit or reorder applied ones.
import type { Knex } from 'knex';
import * as m001 from './001_ledger';
import * as m002 from './002_api';
import * as m003 from './003_orders';
import * as m004 from './004_delivery';
import * as m005 from './005_micropayments';
import * as m006 from './006_settlement_carry';
import * as m007 from './007_recording_generation';
import * as m008 from './008_micro_payment_id_blocks';
import * as m009 from './009_order_inputs';
import * as m010 from './010_problem_resolution';
import * as m011 from './011_review_queue';
import * as m012 from './012_list_indexes';
import * as m013 from './013_delivery_list_indexes';
import * as m014 from './014_party_list_indexes';
import * as m015 from './015_merchant_payouts';
import * as m016 from './016_reconciliation';
import * as m017 from './017_events';
import * as m018 from './018_api_keys';
import * as m019 from './019_audit_log';
import * as m020 from './020_period_lists';
import * as m021 from './021_micro_payment_lists';
import * as m022 from './022_lookups';
import * as m023 from './023_checkout_and_carts';
import * as m024 from './024_bid_rounds';
import * as m025 from './025_bid_round_lists';
import * as m026 from './026_customer_confirmation';
import * as m027 from './027_holds';
import * as m028 from './028_disputes';
import * as m029 from './029_issuer_terms';
import * as m030 from './030_federation';
import * as m031 from './031_netting';

type Migration = { up(db: Knex): Promise<void>; down(db: Knex): Promise<void> };

const migrations: Array<[string, Migration]> = [
  ['001_ledger', m001],
  ['002_api', m002],
  ['003_orders', m003],
  ['004_delivery', m004],
  ['005_micropayments', m005],
  ['006_settlement_carry', m006],
  ['007_recording_generation', m007],
  ['008_micro_payment_id_blocks', m008],
  ['009_order_inputs', m009],
  ['010_problem_resolution', m010],
  ['011_review_queue', m011],
  ['012_list_indexes', m012],
  ['013_delivery_list_indexes', m013],
  ['014_party_list_indexes', m014],
  ['015_merchant_payouts', m015],
  ['016_reconciliation', m016],
  ['017_events', m017],
  ['018_api_keys', m018],
  ['019_audit_log', m019],
  ['020_period_lists', m020],
  ['021_micro_payment_lists', m021],
  ['022_lookups', m022],
  ['023_checkout_and_carts', m023],
  ['024_bid_rounds', m024],
  ['025_bid_round_lists', m025],
  ['026_customer_confirmation', m026],
  ['027_holds', m027],
  ['028_disputes', m028],
  ['029_issuer_terms', m029],
  ['030_federation', m030],
  ['031_netting', m031],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, m]) => m,
};
