// Activities of step-up authentication: ask the order's customer on their devices (a repeat returns the first
// request), and close the request at its deadline or a merchant's cancel (the database says how it ended).
import type { AuthenticationService, StartRequest, Started } from '../services/authentications';

export function createAuthenticationActivities(deps: { authentications: AuthenticationService }) {
  const { authentications } = deps;
  return {
    async startAuthentication(r: StartRequest): Promise<Started> {
      return authentications.start(r);
    },
    async closeAuthentication(orderId: string, outcome: 'expired' | 'cancelled') {
      return authentications.close(orderId, outcome);
    },
  };
}

export type AuthenticationActivities = ReturnType<typeof createAuthenticationActivities>;
