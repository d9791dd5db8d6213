-- v1.3.0: e-mail verification. Existing users count as verified.
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
UPDATE users SET email_verified = true;
