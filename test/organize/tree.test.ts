import { MISSING_PATIENT_FOLDER, organizedPath, sanitizePathPart } from '../../src/organize/tree';

describe('sanitizePathPart', () => {
  test.each([
    ['LIDC-IDRI-0001', 'LIDC-IDRI-0001'],
    ['1.3.6.1.4.1.14519', '1.3.6.1.4.1.14519'],
    ['..', '__'],
    ['.', '_'],
    ['.hidden', '_hidden'],
    ['a/b\\c', 'a_b_c'],
    ['../../etc/passwd', '___.._etc_passwd'],
    ['Müller^Hans', 'M_ller_Hans'],
    ['  spaced  ', 'spaced'],
    ['', '_'],
    ['C:\\Windows', 'C__Windows'],
    ['nul\0byte', 'nul_byte'],
  ])('%j → %j', (input, expected) => {
    expect(sanitizePathPart(input)).toBe(expected);
  });

  test('never yields a separator, a dot-only name or a leading dot', () => {
    for (const s of ['..', '...', './x', '/abs', 'a/../b', '\u202e', '.']) {
      const part = sanitizePathPart(s);
      expect(part).not.toMatch(/[\\/]/);
      expect(part.startsWith('.')).toBe(false);
      expect(part.length).toBeGreaterThan(0);
    }
  });

  test('long values are cut and kept apart by a hash', () => {
    const a = sanitizePathPart('x'.repeat(200) + 'a');
    const b = sanitizePathPart('x'.repeat(200) + 'b');
    expect(a.length).toBeLessThanOrEqual(64);
    expect(a).not.toBe(b);
  });
});

test('organizedPath puts a missing PatientID under a clearly named folder', () => {
  const uids = { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', sopInstanceUid: '1.2.3.4.5' };
  expect(organizedPath({ patientId: 'P/1', ...uids })).toBe('organized/P_1/1.2.3/1.2.3.4/1.2.3.4.5.dcm');
  expect(organizedPath({ patientId: null, ...uids })).toBe(`organized/${MISSING_PATIENT_FOLDER}/1.2.3/1.2.3.4/1.2.3.4.5.dcm`);
  expect(organizedPath({ patientId: '  ', ...uids })).toBe(`organized/${MISSING_PATIENT_FOLDER}/1.2.3/1.2.3.4/1.2.3.4.5.dcm`);
});
