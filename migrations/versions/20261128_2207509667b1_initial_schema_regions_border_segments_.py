"""Initial schema: regions, segments, crossings, incidents, demo truth, users, tokens.

Tables: regions, border_segments, crossing_points, incidents, synthetic_hotspots (the
ground truth of the synthetic demo data), users and api_tokens.

The vocabularies in the CHECK constraints are frozen here as they were in
geo/vocabulary.py at this revision; a later change of vocabulary needs its own revision.

Revision ID: 2207509667b1
Revises:
Create Date: 2026-11-28 19:36:08.950331

"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

# revision identifiers, used by Alembic.
revision = '2207509667b1'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # Needs a superuser (or PostGIS already in the database's template, as the
    # embedded cluster has); a no-op where the extension exists.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_ka', sa.String(length=200), nullable=False),
    sa.Column('provenance', sa.String(length=16), server_default='reported', nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("provenance IN ('reported', 'generalised', 'approximate', 'synthetic')", name='ck_regions_provenance'),
    sa.CheckConstraint('ST_IsValid(geom)', name='ck_regions_geom_valid'),
    sa.CheckConstraint('ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90', name='ck_regions_geom_lonlat_range'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_regions_geom', 'regions', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('synthetic_hotspots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('radius_m', sa.Float(), nullable=False),
    sa.Column('active_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('incident_count', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('persistent', 'new', 'intensifying', 'diminishing')", name='ck_synthetic_hotspots_kind'),
    sa.CheckConstraint('incident_count >= 0', name='ck_synthetic_hotspots_incident_count'),
    sa.CheckConstraint('radius_m > 0', name='ck_synthetic_hotspots_radius'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_synthetic_hotspots_geom', 'synthetic_hotspots', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('viewer', 'analyst', 'supervisor', 'admin')", name='ck_users_role'),
    sa.CheckConstraint("username ~ '^[A-Za-z0-9_.@-]{1,64}$'", name='ck_users_username'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_sha256')
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_geospatial_table('border_segments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('neighbour_country', sa.String(length=2), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('length_m', sa.Float(), nullable=True),
    sa.Column('surveillance_level', sa.SmallInteger(), nullable=False),
    sa.Column('terrain_class', sa.String(length=16), nullable=False),
    sa.Column('provenance', sa.String(length=16), server_default='reported', nullable=False),
    sa.Column('geom', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('land', 'river', 'sea')", name='ck_border_segments_kind'),
    sa.CheckConstraint("neighbour_country ~ '^[A-Z]{2}$'", name='ck_border_segments_neighbour'),
    sa.CheckConstraint("provenance IN ('reported', 'generalised', 'approximate', 'synthetic')", name='ck_border_segments_provenance'),
    sa.CheckConstraint("terrain_class IN ('plain', 'hills', 'mountain', 'high_mountain', 'river', 'coast', 'urban')", name='ck_border_segments_terrain_class'),
    sa.CheckConstraint('ST_IsValid(geom)', name='ck_border_segments_geom_valid'),
    sa.CheckConstraint('ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90', name='ck_border_segments_geom_lonlat_range'),
    sa.CheckConstraint('length_m IS NULL OR length_m >= 0', name='ck_border_segments_length'),
    sa.CheckConstraint('surveillance_level BETWEEN 0 AND 5', name='ck_border_segments_surveillance_level'),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_border_segments_geom', 'border_segments', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    # Nearest-neighbour search on the sphere (geo.queries.link_incidents).
    op.create_index('ix_border_segments_geog', 'border_segments', [sa.text('(geom::geography)')], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_border_segments_region_id'), 'border_segments', ['region_id'], unique=False)
    op.create_geospatial_table('crossing_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('neighbour_country', sa.String(length=2), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provenance', sa.String(length=16), server_default='reported', nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('road', 'rail', 'pedestrian', 'sea_port', 'airport')", name='ck_crossing_points_kind'),
    sa.CheckConstraint("neighbour_country IS NULL OR neighbour_country ~ '^[A-Z]{2}$'", name='ck_crossing_points_neighbour'),
    sa.CheckConstraint("provenance IN ('reported', 'generalised', 'approximate', 'synthetic')", name='ck_crossing_points_provenance'),
    sa.CheckConstraint("status IN ('open', 'restricted', 'closed')", name='ck_crossing_points_status'),
    sa.CheckConstraint('ST_IsValid(geom)', name='ck_crossing_points_geom_valid'),
    sa.CheckConstraint('ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90', name='ck_crossing_points_geom_lonlat_range'),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_crossing_points_geom', 'crossing_points', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    # Nearest-neighbour search on the sphere (geo.queries.link_incidents).
    op.create_index('ix_crossing_points_geog', 'crossing_points', [sa.text('(geom::geography)')], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_crossing_points_region_id'), 'crossing_points', ['region_id'], unique=False)
    op.create_geospatial_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=True),
    sa.Column('detection_method', sa.String(length=24), nullable=True),
    sa.Column('persons_count', sa.Integer(), nullable=False),
    sa.Column('nationality', sa.String(length=2), nullable=True),
    sa.Column('transport_means', sa.String(length=16), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('source_reliability', sa.String(length=1), nullable=False),
    sa.Column('information_credibility', sa.SmallInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provenance', sa.String(length=16), server_default='reported', nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('nearest_segment_id', sa.Integer(), nullable=True),
    sa.Column('segment_distance_m', sa.Float(), nullable=True),
    sa.Column('nearest_crossing_id', sa.Integer(), nullable=True),
    sa.Column('crossing_distance_m', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("category IN ('illegal_crossing_between_bcp', 'illegal_crossing_at_bcp', 'refusal_of_entry', 'illegal_stay', 'asylum_application', 'facilitator', 'fraudulent_document', 'smuggling_drugs', 'smuggling_tobacco', 'smuggling_weapons', 'smuggling_other_goods', 'stolen_vehicle', 'trafficking_human_beings', 'other')", name='ck_incidents_category'),
    sa.CheckConstraint("detection_method IS NULL OR detection_method IN ('bcp_check', 'border_surveillance', 'inland', 'other')", name='ck_incidents_detection_method'),
    sa.CheckConstraint("direction IS NULL OR direction IN ('entry', 'exit')", name='ck_incidents_direction'),
    sa.CheckConstraint("nationality IS NULL OR nationality ~ '^[A-Z]{2}$'", name='ck_incidents_nationality'),
    sa.CheckConstraint("outcome IN ('attempted', 'actual')", name='ck_incidents_outcome'),
    sa.CheckConstraint("provenance IN ('reported', 'generalised', 'approximate', 'synthetic')", name='ck_incidents_provenance'),
    sa.CheckConstraint("source_reliability IN ('A', 'B', 'C', 'D', 'X')", name='ck_incidents_source_reliability'),
    sa.CheckConstraint("status IN ('draft', 'validated', 'closed')", name='ck_incidents_status'),
    sa.CheckConstraint("transport_means IS NULL OR transport_means IN ('on_foot', 'car', 'truck', 'bus', 'train', 'boat', 'aircraft', 'other')", name='ck_incidents_transport_means'),
    sa.CheckConstraint('ST_IsValid(geom)', name='ck_incidents_geom_valid'),
    sa.CheckConstraint('ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90', name='ck_incidents_geom_lonlat_range'),
    sa.CheckConstraint('crossing_distance_m IS NULL OR crossing_distance_m >= 0', name='ck_incidents_crossing_distance'),
    sa.CheckConstraint('information_credibility IN (1, 2, 3, 4)', name='ck_incidents_information_credibility'),
    sa.CheckConstraint('persons_count >= 0', name='ck_incidents_persons_count'),
    sa.CheckConstraint('segment_distance_m IS NULL OR segment_distance_m >= 0', name='ck_incidents_segment_distance'),
    sa.ForeignKeyConstraint(['nearest_crossing_id'], ['crossing_points.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['nearest_segment_id'], ['border_segments.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'external_id', name='uq_incidents_source_external_id')
    )
    op.create_geospatial_index('idx_incidents_geom', 'incidents', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_incidents_category_occurred_at', 'incidents', ['category', 'occurred_at'], unique=False)
    op.create_index(op.f('ix_incidents_nearest_crossing_id'), 'incidents', ['nearest_crossing_id'], unique=False)
    op.create_index(op.f('ix_incidents_nearest_segment_id'), 'incidents', ['nearest_segment_id'], unique=False)
    op.create_index('ix_incidents_occurred_at', 'incidents', ['occurred_at'], unique=False)
    op.create_index(op.f('ix_incidents_region_id'), 'incidents', ['region_id'], unique=False)


def downgrade():
    # The postgis extension stays: other schemas of the database may use it.
    op.drop_index(op.f('ix_incidents_region_id'), table_name='incidents')
    op.drop_index('ix_incidents_occurred_at', table_name='incidents')
    op.drop_index(op.f('ix_incidents_nearest_segment_id'), table_name='incidents')
    op.drop_index(op.f('ix_incidents_nearest_crossing_id'), table_name='incidents')
    op.drop_index('ix_incidents_category_occurred_at', table_name='incidents')
    op.drop_geospatial_index('idx_incidents_geom', table_name='incidents', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('incidents')
    op.drop_index(op.f('ix_crossing_points_region_id'), table_name='crossing_points')
    op.drop_index('ix_crossing_points_geog', table_name='crossing_points')
    op.drop_geospatial_index('idx_crossing_points_geom', table_name='crossing_points', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('crossing_points')
    op.drop_index(op.f('ix_border_segments_region_id'), table_name='border_segments')
    op.drop_index('ix_border_segments_geog', table_name='border_segments')
    op.drop_geospatial_index('idx_border_segments_geom', table_name='border_segments', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('border_segments')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_geospatial_index('idx_synthetic_hotspots_geom', table_name='synthetic_hotspots', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('synthetic_hotspots')
    op.drop_geospatial_index('idx_regions_geom', table_name='regions', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('regions')
