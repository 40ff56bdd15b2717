import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../../src/core/names';

/** Registered on the dev server by `berth server`; on a real cluster with `temporal operator search-attribute create`. */
export const BERTH_APP = defineSearchAttributeKey(SEARCH_ATTRIBUTES.app, SearchAttributeType.KEYWORD);
export const BERTH_OPERATION = defineSearchAttributeKey(
  SEARCH_ATTRIBUTES.operation,
  SearchAttributeType.KEYWORD,
);
export const BERTH_STATUS = defineSearchAttributeKey(SEARCH_ATTRIBUTES.status, SearchAttributeType.KEYWORD);
