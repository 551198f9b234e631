/** Series checks: each series-level code from a fixture that has exactly that defect, and clean series give none. */
import { checkSeries } from '../../src/dicom/series-checks';
import { CODES } from '../../src/dicom/codes';
import type { InstanceFields } from '../../src/records';

const SERIES = '1.2.3.4.5';

interface CtOptions {
  slices?: number;
  thickness?: number;
  spacing?: number;
  /** ImageOrientationPatient row and column vectors */
  orientation?: number[];
  series?: string;
}

/** A clean axial CT series: slice k at origin + k·spacing along the normal, InstanceNumber k. */
function ct(opts: CtOptions = {}): InstanceFields[] {
  const { slices = 20, thickness = 2.5, spacing = thickness, orientation = [1, 0, 0, 0, 1, 0], series = SERIES } = opts;
  const r = orientation.slice(0, 3);
  const c = orientation.slice(3, 6);
  const n = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]];
  return Array.from({ length: slices }, (_, i) => {
    const k = i + 1;
    return {
      patientId: 'P1',
      studyInstanceUid: '1.2.3',
      seriesInstanceUid: series,
      sopInstanceUid: `${series}.${k}`,
      sliceThickness: thickness,
      pixelSpacingRow: 0.7,
      pixelSpacingCol: 0.7,
      studyDate: '2000-01-01',
      acquisitionDate: '2000-01-01',
      instanceNumber: k,
      modality: 'CT',
      rows: 512,
      columns: 512,
      transferSyntaxUid: '1.2.840.10008.1.2',
      fileSize: 525000,
      imagePositionPatient: [-180 + n[0] * spacing * k, -180 + n[1] * spacing * k, -300 + n[2] * spacing * k],
      imageOrientationPatient: orientation,
    };
  });
}

const codes = (instances: InstanceFields[], opts?: Parameters<typeof checkSeries>[1]) => checkSeries(instances, opts).map((i) => i.code);

describe('clean series give no finding', () => {
  test('axial CT, spacing equal to thickness', () => {
    expect(checkSeries(ct({ slices: 40 }))).toEqual([]);
  });

  test('oblique CT: spacing is measured along the normal, not along z', () => {
    const s = Math.SQRT1_2;
    // tilted 45° about x: z steps are only 0.707 of the spacing, the distance along the normal is the spacing
    expect(checkSeries(ct({ orientation: [1, 0, 0, 0, s, s], thickness: 1.25 }))).toEqual([]);
  });

  test('slices listed in reverse, with sub-tolerance jitter', () => {
    const series = ct({ slices: 30 }).reverse();
    series.forEach((inst, i) => (inst.imagePositionPatient![2] += i % 2 ? 0.02 : -0.02));
    expect(checkSeries(series)).toEqual([]);
  });

  test('single-image CR/DX series and two-slice series give no spacing findings', () => {
    const cr = ct({ slices: 1, series: '9.9' }).map((i) => ({ ...i, modality: 'CR', sliceThickness: null, imagePositionPatient: null, imageOrientationPatient: null }));
    expect(checkSeries(cr)).toEqual([]);
    expect(checkSeries(ct({ slices: 2, thickness: 5, spacing: 1 }))).toEqual([]);
  });

  test('a series without positions is only checked for numbers and mixed values', () => {
    const series = ct().map((i) => ({ ...i, imagePositionPatient: null }));
    expect(checkSeries(series)).toEqual([]);
  });
});

describe('each series code from its fixture', () => {
  test('INSTANCE_NUMBER_GAP: numbers missing, positions intact', () => {
    const series = ct({ slices: 30 });
    series.forEach((inst) => {
      if (inst.instanceNumber! >= 5) inst.instanceNumber! += 2; // 5 and 6 missing
      if (inst.instanceNumber! >= 20) inst.instanceNumber! += 1; // 20 missing
    });
    expect(checkSeries(series)).toEqual([
      { seriesInstanceUid: SERIES, code: 'INSTANCE_NUMBER_GAP', message: 'InstanceNumber runs 1..33 but 3 numbers are missing: 5-6, 20' },
    ]);
  });

  test('missing slices: a gap in numbers and an uneven spacing', () => {
    const series = ct({ slices: 30 }).filter((i) => ![5, 6, 20].includes(i.instanceNumber!));
    const issues = checkSeries(series);
    expect(issues.map((i) => i.code)).toEqual(['INSTANCE_NUMBER_GAP', 'UNEVEN_SLICE_SPACING']);
    expect(issues[1].message).toBe(
      'Slice spacing along the normal ranges 2.5-7.5 mm (median 2.5 mm, tolerance 0.25 mm); 2 of 26 gaps off: ' +
        '7.5 mm between -290 and -282.5, 5 mm between -252.5 and -247.5',
    );
  });

  test('DUPLICATE_INSTANCE_NUMBER', () => {
    const series = ct({ slices: 11 });
    series[10].instanceNumber = 7;
    expect(checkSeries(series)).toEqual([
      { seriesInstanceUid: SERIES, code: 'DUPLICATE_INSTANCE_NUMBER', message: 'InstanceNumber shared by several instances: 7 (2 instances)' },
    ]);
  });

  test('DUPLICATE_POSITION', () => {
    const series = ct({ slices: 10 });
    series.push({ ...series[4], sopInstanceUid: `${SERIES}.11`, instanceNumber: 11, imagePositionPatient: [...series[4].imagePositionPatient!] });
    expect(checkSeries(series)).toEqual([
      { seriesInstanceUid: SERIES, code: 'DUPLICATE_POSITION', message: 'ImagePositionPatient shared by several instances: (-180, -180, -287.5) by InstanceNumber 5, 11' },
    ]);
  });

  test('MIXED_SLICE_THICKNESS', () => {
    const series = ct();
    series[3].sliceThickness = 1.25;
    expect(checkSeries(series)).toEqual([
      { seriesInstanceUid: SERIES, code: 'MIXED_SLICE_THICKNESS', message: 'SliceThickness differs within the series: 2.5 mm (19 instances), 1.25 mm (1 instance)' },
    ]);
  });

  test('MIXED_PIXEL_SPACING', () => {
    const series = ct();
    series[0].pixelSpacingCol = 0.8;
    expect(checkSeries(series)).toEqual([
      { seriesInstanceUid: SERIES, code: 'MIXED_PIXEL_SPACING', message: 'PixelSpacing (row\\column) differs within the series: 0.7\\0.7 mm (19 instances), 0.7\\0.8 mm (1 instance)' },
    ]);
  });

  test('MIXED_DIMENSIONS', () => {
    const series = ct();
    series[7].rows = 256;
    series[8].rows = 256;
    series[8].columns = 256;
    expect(checkSeries(series)).toEqual([
      {
        seriesInstanceUid: SERIES,
        code: 'MIXED_DIMENSIONS',
        message: 'Rows x Columns differs within the series: 512x512 (18 instances), 256x512 (1 instance), 256x256 (1 instance)',
      },
    ]);
  });

  test('MIXED_MODALITY', () => {
    const series = ct();
    series[19].modality = 'PT';
    series[18].modality = null;
    expect(checkSeries(series)).toEqual([
      { seriesInstanceUid: SERIES, code: 'MIXED_MODALITY', message: 'Modality differs within the series: CT (18 instances), PT (1 instance); 1 instance without a value' },
    ]);
  });

  test('UNEVEN_SLICE_SPACING with contiguous numbers', () => {
    const series = ct({ slices: 10 });
    for (const inst of series.slice(6)) inst.imagePositionPatient![2] += 1.5; // one 4 mm gap
    const issues = checkSeries(series);
    expect(issues.map((i) => i.code)).toEqual(['UNEVEN_SLICE_SPACING']);
    expect(issues[0].message).toContain('1 of 9 gaps off: 4 mm between -285 and -281');
  });

  test('SPACING_THICKNESS_MISMATCH: overlapping reconstruction', () => {
    expect(checkSeries(ct({ thickness: 2.5, spacing: 1.25 }))).toEqual([
      {
        seriesInstanceUid: SERIES,
        code: 'SPACING_THICKNESS_MISMATCH',
        message: 'Median slice spacing along the normal is 1.25 mm but SliceThickness is 2.5 mm (difference 1.25 mm, tolerance 0.25 mm)',
      },
    ]);
  });

  test('every series-level code of the taxonomy is covered above', () => {
    const seriesCodes = Object.entries(CODES).filter(([, c]) => c.level === 'series').map(([code]) => code);
    expect(seriesCodes.sort()).toEqual(
      [
        'INSTANCE_NUMBER_GAP',
        'DUPLICATE_INSTANCE_NUMBER',
        'DUPLICATE_POSITION',
        'MIXED_SLICE_THICKNESS',
        'MIXED_PIXEL_SPACING',
        'MIXED_DIMENSIONS',
        'MIXED_MODALITY',
        'UNEVEN_SLICE_SPACING',
        'SPACING_THICKNESS_MISMATCH',
      ].sort(),
    );
  });
});

describe('tolerances and grouping', () => {
  test('spacing 4% off the thickness passes by default and fails with a 1% tolerance', () => {
    const series = ct({ thickness: 2.5, spacing: 2.6 });
    expect(codes(series)).toEqual([]);
    expect(codes(series, { spacingTolerance: 0.01 })).toEqual(['SPACING_THICKNESS_MISMATCH']);
  });

  test('the absolute floor keeps thin slices from flagging DS rounding', () => {
    const series = ct({ slices: 10, thickness: 0.3 });
    series[5].imagePositionPatient![2] += 0.04; // 13% of the gap, under 0.05 mm
    expect(codes(series)).toEqual([]);
    expect(codes(series, { spacingToleranceMm: 0.01 })).toEqual(['UNEVEN_SLICE_SPACING']);
  });

  test('a localizer with another orientation turns the spacing checks off', () => {
    const series = ct({ thickness: 2.5, spacing: 1.25 });
    series[0].imageOrientationPatient = [0, 1, 0, 0, 0, -1];
    expect(codes(series)).toEqual([]);
  });

  test('findings are attributed to their own series', () => {
    const a = ct({ series: '1.1' });
    const b = ct({ series: '2.2', thickness: 2.5, spacing: 1.25 });
    a[2].modality = 'MR';
    const interleaved = a.flatMap((inst, i) => [inst, b[i]]);
    expect(checkSeries(interleaved).map((i) => [i.seriesInstanceUid, i.code])).toEqual([
      ['1.1', 'MIXED_MODALITY'],
      ['2.2', 'SPACING_THICKNESS_MISMATCH'],
    ]);
  });

  test('long lists are cut short and messages stay bounded', () => {
    const series = ct({ slices: 2000 }).filter((i) => i.instanceNumber! % 2 === 1);
    const gap = checkSeries(series).find((i) => i.code === 'INSTANCE_NUMBER_GAP')!;
    expect(gap.message).toBe('InstanceNumber runs 1..1999 but 999 numbers are missing: 2, 4, 6, 8, 10, 12, 14, 16, 18, 20 and 989 more');
    for (const issue of checkSeries(series)) expect(issue.message.length).toBeLessThanOrEqual(1000);
  });
});
