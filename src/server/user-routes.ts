import type { FastifyInstance } from 'fastify';
import type { Db } from '../store/db.js';
import { insertUser, setUserRoles, userRoles } from '../store/change-store.js';
import { adminsWithPassword } from '../store/user-accounts.js';
import { listUsers, removeUser, setPasswordHash } from '../store/session-store.js';
import { appendAudit } from '../store/audit-store.js';
import { ChangeRefused } from '../respond/change-control.js';
import { NotFound } from '../respond/detection-actions.js';
import { CAN, USER_ROLES } from '../respond/roles.js';
import { requireRole } from './access.js';
import { hashPassword } from './passwords.js';
import { body, params } from './schemas.js';

const name = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' };
const password = { type: 'string', minLength: 12, maxLength: 256 };
const ROLES = { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...USER_ROLES] } };

/** People and their roles, for admins. Any change of password or roles ends that user's sessions. */
export function registerUserRoutes(app: FastifyInstance, db: Db): void {
  const admin = { preHandler: requireRole(CAN.manageUsers) };
  const exists = (n: string): void => {
    if (!listUsers(db).some((u) => u.name === n)) throw new NotFound(`no user ${n}`);
  };

  app.get('/api/users', admin, async () => ({ items: listUsers(db) }));

  app.post(
    '/api/users',
    {
      ...admin,
      schema: { body: body(['name', 'roles', 'password'], { name, roles: ROLES, password }) },
    },
    async (req) => {
      const b = req.body as { name: string; roles: string[]; password: string };
      // Adding is adding: an existing person's roles change only through their own, audited step.
      if (userRoles(db, b.name) !== null) throw new ChangeRefused(`${b.name} exists already`);
      const hash = await hashPassword(b.password);
      insertUser(db, b.name, b.roles);
      setPasswordHash(db, b.name, hash);
      appendAudit(db, {
        actor: req.caller!.name,
        action: 'user.added',
        subject: b.name,
        details: { roles: b.roles },
      });
      return { name: b.name, roles: b.roles };
    },
  );

  app.put(
    '/api/users/:name/password',
    { ...admin, schema: { params: params({ name }), body: body(['password'], { password }) } },
    async (req) => {
      const n = (req.params as { name: string }).name;
      exists(n);
      setPasswordHash(db, n, await hashPassword((req.body as { password: string }).password));
      appendAudit(db, {
        actor: req.caller!.name,
        action: 'user.password_reset',
        subject: n,
        details: {},
      });
      return { ok: true };
    },
  );

  app.put(
    '/api/users/:name/roles',
    { ...admin, schema: { params: params({ name }), body: body(['roles'], { roles: ROLES }) } },
    async (req) => {
      const n = (req.params as { name: string }).name;
      const before = userRoles(db, n);
      if (before === null) throw new NotFound(`no user ${n}`);
      const after = (req.body as { roles: string[] }).roles;
      // The last admin who can log in keeps the role, or nobody could manage users again.
      if (
        before.includes('admin') &&
        !after.includes('admin') &&
        adminsWithPassword(db).filter((a) => a !== n).length === 0
      )
        throw new ChangeRefused(`${n} is the last admin: make another admin first`);
      setUserRoles(db, n, after);
      appendAudit(db, {
        actor: req.caller!.name,
        action: 'user.roles_changed',
        subject: n,
        details: { from: before, to: after },
      });
      return { name: n, roles: after };
    },
  );

  app.delete(
    '/api/users/:name',
    { ...admin, schema: { params: params({ name }) } },
    async (req) => {
      const n = (req.params as { name: string }).name;
      if (n === req.caller!.name) throw new ChangeRefused('you cannot remove yourself');
      let removed: boolean;
      try {
        removed = removeUser(db, n);
      } catch (err) {
        throw new ChangeRefused((err as Error).message);
      }
      if (!removed) throw new NotFound(`no user ${n}`);
      appendAudit(db, { actor: req.caller!.name, action: 'user.removed', subject: n, details: {} });
      return { ok: true };
    },
  );
}
