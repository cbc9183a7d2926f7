// The seed's WsThrottlerGuard (nest-ws-rate-limiting-and-acks.txt), on
// @nestjs/throttler 6's API: events counted per client IP.
import { ExecutionContext, Injectable } from '@nestjs/common'
import { ThrottlerException, ThrottlerGuard, ThrottlerRequest } from '@nestjs/throttler'

@Injectable()
export class WsThrottlerGuard extends ThrottlerGuard {
  async handleRequest(req: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, generateKey } = req
    const client = (context as ExecutionContext).switchToWs().getClient()
    const ip: string = client.conn.remoteAddress
    const key = generateKey(context, ip, throttler.name ?? 'default')
    const { totalHits } = await this.storageService.increment(key, ttl, limit, blockDuration, throttler.name ?? 'default')
    if (totalHits > limit) {
      throw new ThrottlerException()
    }
    return true
  }
}
