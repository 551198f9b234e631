/**
 * An LIDC-style reader annotation (<LidcReadMessage>) for a CT series: one unblinded read of the
 * series' nodule, with an ROI (edge map) on every slice the nodule crosses. Not DICOM: ingest reports
 * it as an invalid entry, as it does for the XML files of a real LIDC-IDRI download.
 */
import { noduleRadiusAt } from './pixels';
import { InstancePlan, SeriesPlan, sliceZ, StudyPlan } from './datasets';

export function lidcXml(study: StudyPlan, series: SeriesPlan, instances: InstancePlan[], messageId: number): string {
  const rois: string[] = [];
  const n = series.nodule;
  for (const inst of instances) {
    const r = n ? noduleRadiusAt(n, inst.index) : 0;
    if (!n || r <= 0) continue;
    const edge: string[] = [];
    for (let k = 0; k < 8; k++) {
      const a = (k / 8) * 2 * Math.PI;
      edge.push(
        `      <edgeMap>\n        <xCoord>${Math.round(n.x + r * Math.cos(a))}</xCoord>\n        <yCoord>${Math.round(n.y + r * Math.sin(a))}</yCoord>\n      </edgeMap>`,
      );
    }
    rois.push(
      [
        '    <roi>',
        `      <imageZposition>${sliceZ(series, inst.index).toFixed(6)}</imageZposition>`,
        `      <imageSOP_UID>${inst.sopInstanceUid}</imageSOP_UID>`,
        '      <inclusion>TRUE</inclusion>',
        ...edge,
        '    </roi>',
      ].join('\n'),
    );
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<LidcReadMessage uid="${series.uid}.1" xmlns="http://www.nih.gov" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.nih.gov http://troll.rad.med.umich.edu/lidc/LidcReadMessage.xsd">
  <ResponseHeader>
    <Version>1.8.1</Version>
    <MessageId>${messageId}</MessageId>
    <DateRequest>2007-11-01</DateRequest>
    <TimeRequest>12:30:48</TimeRequest>
    <RequestingSite>removed</RequestingSite>
    <ServicingSite>removed</ServicingSite>
    <TaskDescription>Second unblinded read</TaskDescription>
    <CtImageFile>removed</CtImageFile>
    <SeriesInstanceUid>${series.uid}</SeriesInstanceUid>
    <DateService>2008-08-07</DateService>
    <TimeService>02:49:23</TimeService>
    <ResponseDescription>1 - Reading complete</ResponseDescription>
    <StudyInstanceUID>${study.uid}</StudyInstanceUID>
  </ResponseHeader>
  <readingSession>
    <annotationVersion>3.12</annotationVersion>
    <servicingRadiologistID>anonymous</servicingRadiologistID>
    <unblindedReadNodule>
    <noduleID>Nodule 001</noduleID>
    <characteristics>
      <subtlety>5</subtlety>
      <internalStructure>1</internalStructure>
      <calcification>6</calcification>
      <sphericity>4</sphericity>
      <margin>4</margin>
      <lobulation>1</lobulation>
      <spiculation>1</spiculation>
      <texture>5</texture>
      <malignancy>3</malignancy>
    </characteristics>
${rois.join('\n')}
    </unblindedReadNodule>
  </readingSession>
</LidcReadMessage>
`;
}
