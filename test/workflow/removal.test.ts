/**
 * An app's removal is done when its containers are gone (`untilGone`), on the real engine: Docker
 * answers a removal already in progress with 409, and the removers take that as done.
 */
import { untilGone } from '../../activities/common';
import { LABEL } from '../../src/core/names';
import { docker, uniqueApp } from '../support/docker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('untilGone', () => {
  const app = uniqueApp('gone');
  const labels = [`${LABEL.app}=${app}`];
  const make = () =>
    docker.createContainer({ Image: 'berth/busybox:1', Cmd: ['sleep', '600'], Labels: { [LABEL.app]: app } });
  const left = async () => (await docker.listContainers({ all: true, filters: { label: labels } })).length;

  afterAll(async () => {
    for (const c of await docker.listContainers({ all: true, filters: { label: labels } }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => undefined);
  });

  test('returns only once the container removed meanwhile is gone', async () => {
    const container = await make();
    const removal = sleep(1_500).then(() => container.remove({ force: true }));
    await untilGone(docker, labels, 20_000);
    expect(await left()).toBe(0);
    await removal;
  }, 30_000);

  test('fails, naming the container, when one is still there after the wait', async () => {
    const container = await make();
    const name = (await container.inspect()).Name;
    await expect(untilGone(docker, labels, 1_000)).rejects.toThrow(
      `1 container(s) labelled ${LABEL.app}=${app} still there after 1 s: ${name}`,
    );
    expect(await left()).toBe(1);
  }, 30_000);
});
