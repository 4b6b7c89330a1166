import express, { Router } from 'express';
import { allowedMethods } from '../../../app/http/methods';

describe('allowedMethods: read from the routes express really has', () => {
  const app = express();
  const inner = Router();
  inner.post('/chat/completions', (_req, res) => res.end());
  inner.get('/models/*id', (_req, res) => res.end());
  inner
    .route('/chats/:id')
    .get((_req, res) => res.end())
    .put((_req, res) => res.end());
  inner.delete('/chats/:id', (_req, res) => res.end());
  const outer = Router();
  outer.use(inner);
  app.use('/v1', express.json(), outer);
  app.get('/livez', (_req, res) => res.end());

  it('finds the methods of a path through mounted and nested routers', () => {
    expect(allowedMethods(app, '/v1/chat/completions')).toEqual(['OPTIONS', 'POST']);
    expect(allowedMethods(app, '/v1/models/meta/llama:8b')).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expect(allowedMethods(app, '/v1/chats/42')).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT']);
    expect(allowedMethods(app, '/v1/chats/42/')).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT']);
    expect(allowedMethods(app, '/livez')).toEqual(['GET', 'HEAD', 'OPTIONS']);
  });

  it('knows no method for a path no route serves, nor for a malformed encoding', () => {
    expect(allowedMethods(app, '/v1/nope')).toEqual([]);
    expect(allowedMethods(app, '/v2/chat/completions')).toEqual([]);
    expect(allowedMethods(app, '/v1/chats/%E0%A4%A')).toEqual([]);
  });
});
