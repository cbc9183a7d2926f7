// The tutorial's payloads (SPEC §2), validated by Nest's ValidationPipe with
// class-validator, as a NestJS gateway of the tutorial would.
import { Type } from 'class-transformer'
import { IsIn, IsNumber, IsString, Length, Matches, ValidateNested } from 'class-validator'

export class UserDto {
  @IsString() @Length(1, 24) userId: string
  @IsString() @Length(1, 16) userName: string
  @IsString() @Length(20, 20) socketId: string
}

export class JoinRoomDto {
  @IsString() @Length(2, 16) @Matches(/^\S+\w$/) roomName: string
  @ValidateNested() @Type(() => UserDto) user: UserDto
  @IsIn(['join_room']) eventName: string
}

export class ChatDto {
  @ValidateNested() @Type(() => UserDto) user: UserDto
  @IsNumber() timeSent: number
  @IsString() @Length(1, 1000) message: string
  @IsString() @Length(2, 16) @Matches(/^\S+\w$/) roomName: string
  @IsIn(['chat']) eventName: string
}
