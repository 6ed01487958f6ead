-- The seed-like mapping of the funnel: stage ids and activity type names to funnel steps (the product's
-- seeds/funnel_steps.csv says the same).
select *
from (
    values
    ('1', 1, 'Lead Generation', 1, null),
    ('2', 2, 'Qualified Lead', 2, null),
    ('2.1', 3, 'Sales Call 1', null, 'Sales Call 1'),
    ('3', 4, 'Needs Assessment', 3, null),
    ('3.1', 5, 'Sales Call 2', null, 'Sales Call 2'),
    ('4', 6, 'Proposal/Quote Preparation', 4, null),
    ('5', 7, 'Negotiation', 5, null),
    ('6', 8, 'Closing', 6, null),
    ('7', 9, 'Implementation/Onboarding', 7, null),
    ('8', 10, 'Follow-up/Customer Success', 8, null),
    ('9', 11, 'Renewal/Expansion', 9, null)
) as steps (funnel_step, step_order, kpi_name, stage_id, activity_type_name)
