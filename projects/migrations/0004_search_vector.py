import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations

# PostgreSQL keeps each brief's search_vector itself (PostgreSQL 15 manual, 12.4.3
# "Triggers for Automatic Updates"), whatever writes the rows: the brief's own columns
# on insert/update, its skills when they are added or removed, a skill when renamed.
# The document: title (A), skill names (B), description (C), in English and French.
CREATE = """
CREATE FUNCTION projects_search_document(title text, description text, project_id bigint)
RETURNS tsvector LANGUAGE sql STABLE AS $$
    WITH skills AS (
        SELECT coalesce(string_agg(k.name, ' ' ORDER BY k.name), '') AS names
        FROM projects_project_skills ps JOIN marketplace_skill k ON k.id = ps.skill_id
        WHERE ps.project_id = $3
    )
    SELECT setweight(to_tsvector('english', $1), 'A') || setweight(to_tsvector('french', $1), 'A')
        || setweight(to_tsvector('english', names), 'B') || setweight(to_tsvector('french', names), 'B')
        || setweight(to_tsvector('english', $2), 'C') || setweight(to_tsvector('french', $2), 'C')
    FROM skills
$$;

CREATE FUNCTION projects_project_search_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := projects_search_document(NEW.title, NEW.description, NEW.id);
    RETURN NEW;
END $$;

CREATE TRIGGER projects_project_search
    BEFORE INSERT OR UPDATE OF title, description ON projects_project
    FOR EACH ROW EXECUTE FUNCTION projects_project_search_row();

CREATE FUNCTION projects_project_skills_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE projects_project p
    SET search_vector = projects_search_document(p.title, p.description, p.id)
    WHERE p.id IN (SELECT project_id FROM changed_rows);
    RETURN NULL;
END $$;

CREATE TRIGGER projects_project_skills_added
    AFTER INSERT ON projects_project_skills REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION projects_project_skills_search();

CREATE TRIGGER projects_project_skills_removed
    AFTER DELETE ON projects_project_skills REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION projects_project_skills_search();

CREATE FUNCTION projects_skill_renamed_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE projects_project p
    SET search_vector = projects_search_document(p.title, p.description, p.id)
    WHERE p.id IN (SELECT project_id FROM projects_project_skills WHERE skill_id = NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER projects_skill_renamed
    AFTER UPDATE OF name ON marketplace_skill
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION projects_skill_renamed_search();

UPDATE projects_project SET search_vector = projects_search_document(title, description, id);

CREATE INDEX project_search_vector_gin ON projects_project USING gin (search_vector);
"""

DROP = """
DROP INDEX IF EXISTS project_search_vector_gin;
DROP TRIGGER IF EXISTS projects_skill_renamed ON marketplace_skill;
DROP TRIGGER IF EXISTS projects_project_skills_removed ON projects_project_skills;
DROP TRIGGER IF EXISTS projects_project_skills_added ON projects_project_skills;
DROP TRIGGER IF EXISTS projects_project_search ON projects_project;
DROP FUNCTION IF EXISTS projects_skill_renamed_search();
DROP FUNCTION IF EXISTS projects_project_skills_search();
DROP FUNCTION IF EXISTS projects_project_search_row();
DROP FUNCTION IF EXISTS projects_search_document(text, text, bigint);
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0003_ranking_stats"),
        ("projects", "0003_reviews_messages_files"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="project",
                    index=django.contrib.postgres.indexes.GinIndex(
                        fields=["search_vector"], name="project_search_vector_gin"
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
