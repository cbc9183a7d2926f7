// The NestJS benchmark server: `node dist/main.js [-addr host:port]`, prints
// "LISTEN host:port" once listening (the runner's protocol).
import 'reflect-metadata'
import { Module } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { ThrottlerModule } from '@nestjs/throttler'
import { AddressInfo } from 'net'
import { ChatGateway } from './chat.gateway'

@Module({
  imports: [ThrottlerModule.forRoot([{ limit: 5, ttl: 60_000 }])],
  providers: [ChatGateway],
})
class AppModule {}

async function main(): Promise<void> {
  const i = process.argv.indexOf('-addr')
  const [host, port] = (i > 0 ? process.argv[i + 1] : '127.0.0.1:0').split(':')
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] })
  app.enableShutdownHooks()
  await app.listen(Number(port), host)
  const addr = app.getHttpServer().address() as AddressInfo
  console.log(`LISTEN ${host}:${addr.port}`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
