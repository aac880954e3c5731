import type { RoutePlugin } from '../plugin.js';
import { listUsers, passwordHash } from '../../store/session-store.js';
import {
  addPerson,
  changeOwnPassword,
  changeRoles,
  removePerson,
  resetPassword,
} from '../../respond/users.js';
import { CAN } from '../../respond/roles.js';
import { requireRole } from '../auth.js';
import { hashPassword, verifyPassword } from '../passwords.js';
import { body, ref, ROLES, USER_PARAMS, type UserParams } from '../schemas.js';

const password = { type: 'string', minLength: 12, maxLength: 256 };

/** People and their roles, for admins only; each person's own password. Any change of password or roles ends that user's sessions. */
export const userRoutes: RoutePlugin = async (app, { db }) => {
  const admin = { preHandler: requireRole(CAN.manageUsers) };

  app.get('/api/users', admin, async () => ({ items: listUsers(db) }));

  app.post<{ Body: { name: string; roles: string[]; password: string } }>(
    '/api/users',
    {
      ...admin,
      schema: {
        body: body(['name', 'roles', 'password'], {
          name: USER_PARAMS.properties.name,
          roles: ref(ROLES),
          password,
        }),
      },
    },
    async (req) =>
      addPerson(db, {
        actor: req.caller!.name,
        name: req.body.name,
        roles: req.body.roles,
        passwordHash: await hashPassword(req.body.password),
      }),
  );

  app.put<{ Params: UserParams; Body: { password: string } }>(
    '/api/users/:name/password',
    { ...admin, schema: { params: ref(USER_PARAMS), body: body(['password'], { password }) } },
    async (req) => {
      resetPassword(db, {
        actor: req.caller!.name,
        name: req.params.name,
        passwordHash: await hashPassword(req.body.password),
      });
      return { ok: true };
    },
  );

  // Anyone logged in sets their own password, proving the current one (a left-open session alone does not do).
  app.put<{ Body: { current: string; password: string } }>(
    '/api/me/password',
    {
      preHandler: requireRole(CAN.ownAccount),
      schema: {
        body: body(['current', 'password'], {
          current: { type: 'string', minLength: 1, maxLength: 256 },
          password,
        }),
      },
    },
    async (req, reply) => {
      const name = req.caller!.name;
      if (!(await verifyPassword(req.body.current, passwordHash(db, name) ?? '')))
        return reply.code(403).send({ error: 'the current password is wrong' });
      changeOwnPassword(db, { name, passwordHash: await hashPassword(req.body.password) });
      return { ok: true, note: 'password changed: log in again' };
    },
  );

  app.put<{ Params: UserParams; Body: { roles: string[] } }>(
    '/api/users/:name/roles',
    {
      ...admin,
      schema: { params: ref(USER_PARAMS), body: body(['roles'], { roles: ref(ROLES) }) },
    },
    async (req) =>
      changeRoles(db, { actor: req.caller!.name, name: req.params.name, roles: req.body.roles }),
  );

  app.delete<{ Params: UserParams }>(
    '/api/users/:name',
    { ...admin, schema: { params: ref(USER_PARAMS) } },
    async (req) => {
      removePerson(db, { actor: req.caller!.name, name: req.params.name });
      return { ok: true };
    },
  );
};
