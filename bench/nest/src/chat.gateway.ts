// The tutorial's gateway (SPEC §2, seed nest-ws-rate-limiting-and-acks.txt):
// join_room and chat with the seed's guards and pipes. Membership is kept
// in memory as the tutorial's RoomService does; the per-message
// Logger.log of the seed is left out (sockgate logs no message either).
import { UseGuards, UsePipes, ValidationPipe } from '@nestjs/common'
import { MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, WsException, ConnectedSocket } from '@nestjs/websockets'
import { Throttle } from '@nestjs/throttler'
import { Server, Socket } from 'socket.io'
import { ChatDto, JoinRoomDto } from './dto'
import { WsThrottlerGuard } from './throttler.guard'

// Limits are set high for the benchmark (the guards still run and count).
const LIMIT = Number(process.env.BENCH_LIMIT ?? 1e9)

@WebSocketGateway({ cors: { origin: '*' } })
export class ChatGateway {
  @WebSocketServer() server: Server

  private rooms = new Map<string, { host: string; users: Set<string> }>()

  @Throttle({ default: { limit: LIMIT, ttl: 30_000 } })
  @UseGuards(WsThrottlerGuard)
  @UsePipes(new ValidationPipe())
  @SubscribeMessage('chat')
  async handleChatEvent(@MessageBody() payload: ChatDto, @ConnectedSocket() socket: Socket): Promise<boolean> {
    if (!this.rooms.get(payload.roomName)?.users.has(socket.id)) {
      throw new WsException('not a member of ' + payload.roomName)
    }
    this.server.to(payload.roomName).emit('chat', payload)
    return true
  }

  @Throttle({ default: { limit: LIMIT, ttl: 60_000 } })
  @UseGuards(WsThrottlerGuard)
  @UsePipes(new ValidationPipe())
  @SubscribeMessage('join_room')
  async handleJoinRoom(@MessageBody() payload: JoinRoomDto): Promise<boolean> {
    await this.server.in(payload.user.socketId).socketsJoin(payload.roomName)
    let room = this.rooms.get(payload.roomName)
    if (!room) {
      room = { host: payload.user.userId, users: new Set() }
      this.rooms.set(payload.roomName, room)
    }
    room.users.add(payload.user.socketId)
    return true
  }
}
