// Merchants' webhook endpoints: a URL that passes the deployment's rules (http(s), no credentials, no private or
// loopback address unless allowed), a signing secret made here and shown once (at registration and at each
// rotation), and the endpoint's delivery policy.
import { newWebhookSecret } from '../webhooks/signature';
import { validateWebhookUrl, WebhookUrlError } from '../webhooks/url';
import type { DeadLetterPolicy } from '../domain/delivery';
import type { DeliveryStore, Endpoint, EndpointChanges } from '../stores/delivery';
import { StoreRefusal } from '../stores/refusal';

export interface EndpointSettings {
  /** Accept endpoints on private and loopback addresses (local receivers, tests). */
  allowPrivate: boolean;
  /** Default give-up time of new endpoints. */
  giveUpMs: number;
}

export interface EndpointRequest { url: string; description?: string; events?: string[]; onDeadLetter: DeadLetterPolicy; giveUpSeconds?: number }

export class WebhookEndpoints {
  constructor(private readonly store: DeliveryStore, private readonly settings: EndpointSettings) {}

  /** Registers the endpoint; its secret is returned once (only the store keeps it, to sign with). */
  async register(merchantId: string, req: EndpointRequest): Promise<{ endpoint: Endpoint; secret: string }> {
    await this.checkUrl(req.url);
    const secret = newWebhookSecret();
    const endpoint = await this.store.createEndpoint(merchantId, { ...req, secret,
      giveUpSeconds: req.giveUpSeconds ?? Math.ceil(this.settings.giveUpMs / 1000) });
    return { endpoint, secret };
  }

  /** Changes the endpoint (its URL checked as at registration); undefined: no such endpoint. */
  async update(id: string, changes: EndpointChanges): Promise<Endpoint | undefined> {
    if (changes.url !== undefined) await this.checkUrl(changes.url);
    return this.store.updateEndpoint(id, changes);
  }

  /** A new signing secret, returned once; the old one also signs for `overlapSeconds`. Undefined: no such endpoint. */
  async rotateSecret(id: string, overlapSeconds: number): Promise<{ endpoint: Endpoint; secret: string } | undefined> {
    const secret = newWebhookSecret();
    const endpoint = await this.store.rotateSecret(id, secret, overlapSeconds);
    return endpoint && { endpoint, secret };
  }

  private async checkUrl(url: string): Promise<void> {
    try {
      await validateWebhookUrl(url, { allowPrivate: this.settings.allowPrivate });
    } catch (err) {
      if (err instanceof WebhookUrlError) throw new StoreRefusal(err.code, err.message, 'url');
      throw err;
    }
  }
}
