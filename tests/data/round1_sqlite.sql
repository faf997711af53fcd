BEGIN TRANSACTION;
CREATE TABLE api_tokens (
	token_hash VARCHAR(64) NOT NULL, 
	user_id VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (token_hash), 
	FOREIGN KEY(user_id) REFERENCES users (id) ON DELETE CASCADE
);
INSERT INTO "api_tokens" VALUES('c339626ea0bd2482ccb5bd8b0c2b6b1013e8bda63fc1c066693d796dc5393572','ada','2026-11-30 19:30:48.798855');
CREATE TABLE generation_feedback (
	id VARCHAR(32) NOT NULL, 
	job_id VARCHAR(32) NOT NULL, 
	user_id VARCHAR(64) NOT NULL, 
	liked BOOLEAN NOT NULL, 
	comment TEXT, 
	applied_version INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "generation_feedback" VALUES('9c4a73b8675f41b9b3c4d73322644d47','6f6e38fa4bae4667abfa53efe44f5861','ada',1,'nice',NULL,'2026-11-30 19:30:48.808742');
CREATE TABLE generation_jobs (
	id VARCHAR(32) NOT NULL, 
	user_id VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	request TEXT NOT NULL, 
	total_steps INTEGER NOT NULL, 
	result TEXT, 
	error TEXT, 
	created_at DATETIME NOT NULL, 
	started_at DATETIME, 
	finished_at DATETIME, 
	PRIMARY KEY (id)
);
INSERT INTO "generation_jobs" VALUES('6f6e38fa4bae4667abfa53efe44f5861','ada','done','{"prompt": "a lighthouse"}',2,'{"images": 1}',NULL,'2026-11-30 19:30:48.806237',NULL,'2026-11-30 19:30:48.807530');
CREATE TABLE onboarding_messages (
	id INTEGER NOT NULL, 
	session_id VARCHAR(32) NOT NULL, 
	seq INTEGER NOT NULL, 
	role VARCHAR(8) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	image_id VARCHAR(100), 
	text TEXT NOT NULL, 
	extraction TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (session_id, seq), 
	FOREIGN KEY(session_id) REFERENCES onboarding_sessions (id) ON DELETE CASCADE
);
INSERT INTO "onboarding_messages" VALUES(1,'c4bd1ddac28c4406941c18136e06b89c',1,'user','comment','img-1','love the teal blues',NULL,'2026-11-30 19:30:48.804380');
CREATE TABLE onboarding_sessions (
	id VARCHAR(32) NOT NULL, 
	user_id VARCHAR(64) NOT NULL, 
	gallery VARCHAR(200) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	current_image_id VARCHAR(100), 
	awaiting_followup INTEGER NOT NULL, 
	profile_version INTEGER, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "onboarding_sessions" VALUES('c4bd1ddac28c4406941c18136e06b89c','ada','builtin','active',NULL,0,NULL,'2026-11-30 19:30:48.802178','2026-11-30 19:30:48.805346');
CREATE TABLE profile_versions (
	id INTEGER NOT NULL, 
	user_id VARCHAR(64) NOT NULL, 
	version INTEGER NOT NULL, 
	reason VARCHAR(200) NOT NULL, 
	attribute_count INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	snapshot TEXT NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_profile_version UNIQUE (user_id, version)
);
INSERT INTO "profile_versions" VALUES(1,'ada',1,'onboarding',1,'2026-11-30 19:30:48.800147','{"user_id":"ada","version":1,"attributes":[{"text":"teal palette","category":"color","polarity":"like","strength":0.7,"evidence":[],"source":null,"id":"683b81f11f0a4c04ae9fbed502886493","user_id":"ada","created_at":"2026-11-30T19:30:48.800110Z","updated_at":"2026-11-30T19:30:48.800112Z"}],"liked_images":[],"disliked_images":[],"updated_at":"2026-11-30T19:30:48.800147Z"}');
CREATE TABLE users (
	id VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "users" VALUES('ada','2026-11-30 19:30:48.793605');
CREATE INDEX ix_onboarding_sessions_user_id ON onboarding_sessions (user_id);
CREATE INDEX ix_generation_jobs_user_id ON generation_jobs (user_id);
CREATE INDEX ix_generation_jobs_status ON generation_jobs (status);
CREATE INDEX ix_generation_feedback_applied_version ON generation_feedback (applied_version);
CREATE INDEX ix_generation_feedback_user_id ON generation_feedback (user_id);
CREATE INDEX ix_generation_feedback_job_id ON generation_feedback (job_id);
CREATE INDEX ix_profile_versions_user_id ON profile_versions (user_id);
CREATE INDEX ix_onboarding_messages_session_id ON onboarding_messages (session_id);
CREATE INDEX ix_api_tokens_user_id ON api_tokens (user_id);
COMMIT;
