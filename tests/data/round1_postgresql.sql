-- pg_dump --inserts of a PostgreSQL database made by the round-1 code's create_all (before
-- migrations): one user (token in tests/test_migrations.py) and one onboarding message.
SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
SET default_tablespace = '';
SET default_table_access_method = heap;
CREATE TABLE public.api_tokens (
    token_hash character varying(64) NOT NULL,
    user_id character varying(64) NOT NULL,
    created_at timestamp with time zone NOT NULL
);
CREATE TABLE public.generation_feedback (
    id character varying(32) NOT NULL,
    job_id character varying(32) NOT NULL,
    user_id character varying(64) NOT NULL,
    liked boolean NOT NULL,
    comment text,
    applied_version integer,
    created_at timestamp with time zone NOT NULL
);
CREATE TABLE public.generation_jobs (
    id character varying(32) NOT NULL,
    user_id character varying(64) NOT NULL,
    status character varying(16) NOT NULL,
    request text NOT NULL,
    total_steps integer NOT NULL,
    result text,
    error text,
    created_at timestamp with time zone NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone
);
CREATE TABLE public.onboarding_messages (
    id integer NOT NULL,
    session_id character varying(32) NOT NULL,
    seq integer NOT NULL,
    role character varying(8) NOT NULL,
    kind character varying(16) NOT NULL,
    image_id character varying(100),
    text text NOT NULL,
    extraction text,
    created_at timestamp with time zone NOT NULL
);
CREATE SEQUENCE public.onboarding_messages_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.onboarding_messages_id_seq OWNED BY public.onboarding_messages.id;
CREATE TABLE public.onboarding_sessions (
    id character varying(32) NOT NULL,
    user_id character varying(64) NOT NULL,
    gallery character varying(200) NOT NULL,
    status character varying(16) NOT NULL,
    current_image_id character varying(100),
    awaiting_followup integer NOT NULL,
    profile_version integer,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);
CREATE TABLE public.profile_versions (
    id integer NOT NULL,
    user_id character varying(64) NOT NULL,
    version integer NOT NULL,
    reason character varying(200) NOT NULL,
    attribute_count integer NOT NULL,
    created_at timestamp with time zone NOT NULL,
    snapshot text NOT NULL
);
CREATE SEQUENCE public.profile_versions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.profile_versions_id_seq OWNED BY public.profile_versions.id;
CREATE TABLE public.users (
    id character varying(64) NOT NULL,
    created_at timestamp with time zone NOT NULL
);
ALTER TABLE ONLY public.onboarding_messages ALTER COLUMN id SET DEFAULT nextval('public.onboarding_messages_id_seq'::regclass);
ALTER TABLE ONLY public.profile_versions ALTER COLUMN id SET DEFAULT nextval('public.profile_versions_id_seq'::regclass);
INSERT INTO public.api_tokens VALUES ('f4acddb28c70a41931121404c1ebc889a2ece8bb48f8a01045c37fb8cebb98c9', 'ada', '2026-11-30 20:20:02.358148+00');
INSERT INTO public.onboarding_messages VALUES (1, '5fcaaf57cc3f4d0b86dcafeeae3056e0', 1, 'user', 'comment', 'img-1', 'love the teal blues', NULL, '2026-11-30 20:20:02.411863+00');
INSERT INTO public.onboarding_sessions VALUES ('5fcaaf57cc3f4d0b86dcafeeae3056e0', 'ada', 'builtin', 'active', NULL, 0, NULL, '2026-11-30 20:20:02.387194+00', '2026-11-30 20:20:02.427032+00');
INSERT INTO public.users VALUES ('ada', '2026-11-30 20:20:02.314733+00');
SELECT pg_catalog.setval('public.onboarding_messages_id_seq', 1, true);
SELECT pg_catalog.setval('public.profile_versions_id_seq', 1, false);
ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT api_tokens_pkey PRIMARY KEY (token_hash);
ALTER TABLE ONLY public.generation_feedback
    ADD CONSTRAINT generation_feedback_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.generation_jobs
    ADD CONSTRAINT generation_jobs_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.onboarding_messages
    ADD CONSTRAINT onboarding_messages_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.onboarding_messages
    ADD CONSTRAINT onboarding_messages_session_id_seq_key UNIQUE (session_id, seq);
ALTER TABLE ONLY public.onboarding_sessions
    ADD CONSTRAINT onboarding_sessions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.profile_versions
    ADD CONSTRAINT profile_versions_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.profile_versions
    ADD CONSTRAINT uq_profile_version UNIQUE (user_id, version);
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);
CREATE INDEX ix_api_tokens_user_id ON public.api_tokens USING btree (user_id);
CREATE INDEX ix_generation_feedback_applied_version ON public.generation_feedback USING btree (applied_version);
CREATE INDEX ix_generation_feedback_job_id ON public.generation_feedback USING btree (job_id);
CREATE INDEX ix_generation_feedback_user_id ON public.generation_feedback USING btree (user_id);
CREATE INDEX ix_generation_jobs_status ON public.generation_jobs USING btree (status);
CREATE INDEX ix_generation_jobs_user_id ON public.generation_jobs USING btree (user_id);
CREATE INDEX ix_onboarding_messages_session_id ON public.onboarding_messages USING btree (session_id);
CREATE INDEX ix_onboarding_sessions_user_id ON public.onboarding_sessions USING btree (user_id);
CREATE INDEX ix_profile_versions_user_id ON public.profile_versions USING btree (user_id);
ALTER TABLE ONLY public.api_tokens
    ADD CONSTRAINT api_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.onboarding_messages
    ADD CONSTRAINT onboarding_messages_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.onboarding_sessions(id) ON DELETE CASCADE;
