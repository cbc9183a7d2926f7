import io from 'socket.io-client';

const socket = io('http://localhost:3000/chat', {
  auth: {
    token: accessToken
  }
});

socket.on('connect', () => {
  console.log('Connected to chat');
});

socket.emit('join', { chatId: 'chat-123' });

socket.on('user joined', (data) => {
  console.log(`${data.userId} joined chat`);
});

socket.emit('chat message', {
  chatId: 'chat-123',
  content: 'Hello!',
  attachments: [] // Optional file attachments
});

socket.on('message', (message) => {
  console.log(`${message.sender.fullName}: ${message.content}`);
  displayMessage(message);
});
