//! Shared by the store's test files.
#![allow(dead_code)]

pub mod contract;

/// Runs every contract function, each on a store `fresh` makes.
#[macro_export]
macro_rules! each_contract {
    ($m:ident) => {
        $m!(concurrent_registrations_get_distinct_sequential_revisions);
        $m!(a_refused_write_does_not_disturb_the_rest_of_its_group);
        $m!(documents_are_read_decided_and_written_atomically);
        $m!(state_is_kept_per_region);
        $m!(listings_page_in_both_directions_and_filter_by_status);
        $m!(reset_wipes_everything_and_numbering_restarts);
        $m!(tag_limit_is_enforced_atomically);
        $m!(purged_revisions_go_with_their_tags_and_their_numbers_stay_taken);
        $m!(reads_follow_every_write);
        $m!(elb_writes_are_atomic_and_deletes_take_dependents);
        $m!(placement_holds_resources_until_stopped);
        $m!(placement_sees_every_change_to_the_instances);
        $m!(an_instances_status_change_is_announced_once);
        $m!(tasks_and_instances_are_counted_by_cluster_and_status);
        $m!(the_fargate_pool_serves_every_cluster);
    };
}
