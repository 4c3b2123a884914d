import Foundation
import JSON
import Testing

@testable import FerryClient

@Suite struct ResultReportTests {
  @Test func analyzeReportNamesLoudnessPeaksClippingAndSilence() throws {
    let result = try JSONValue.parse(
      Data(
        #"""
        {"media_info": {"container": {"kind": "wav", "duration": 12.5},
                        "audio": {"codec": "pcm_s16le", "sample_rate": 48000, "channels": 2}},
         "processed_region": {"start": 0, "end": 12.5, "audio": {
           "loudness": {"measured": -23.04, "range": 4.2, "sample_peak": -1.5, "true_peak": -1.25},
           "clipping": {"num_sections": 2, "sections": [{"start": 1.2, "end": 1.3}, {"start": 5, "end": 5.1}]},
           "silence": {"percentage": 12.5, "num_sections": 1, "sections": [{"start": 0, "end": 1.56}]},
           "noise": {"level_average": -70.2, "snr_average": 47.1},
           "validation": {"loudness": {"pass": false, "detail": "true peak -1.25 dBTP is above -2"}}}},
         "version": "0.1.0"}
        """#.utf8))
    let report = ResultReport.analyze(result, source: "talk.wav")
    #expect(
      report == """
        talk.wav: 12.5 s, pcm_s16le 48000 Hz stereo
          Integrated loudness  -23.0 LUFS
          Loudness range       4.2 LU
          True peak            -1.2 dBTP
          Sample peak          -1.5 dBFS
          Clipping             2 sections (first at 1.2 s)
          Silence              12.5% in 1 section
          Noise                -70.2 dB (SNR 47.1 dB)
          Validation           FAIL (true peak -1.25 dBTP is above -2)

        """)
  }

  @Test func silentMediaHasNoLoudnessAndSaysSo() throws {
    let result = try JSONValue.parse(
      Data(#"{"processed_region": {"audio": {"loudness": {"measured": null}, "clipping": {"num_sections": 0}}}}"#.utf8))
    let report = ResultReport.analyze(result, source: "quiet.wav")
    #expect(report.contains("Integrated loudness  n/a"))
    #expect(report.contains("Clipping             none"))
    #expect(report.hasPrefix("quiet.wav\n"))
  }

  @Test func jobsTableAlignsColumns() throws {
    let items = try JSONValue.parse(
      Data(
        #"""
        [{"job_id": "a1", "path": "/media/enhance", "status": "Running", "progress": 42, "time_submitted": "t1", "duration": 0},
         {"job_id": "b2", "path": "/media/analyze", "status": "Success", "progress": 100, "time_submitted": "t2", "duration": 61.2}]
        """#.utf8))
    guard case .array(let list) = items else { return }
    #expect(
      ResultReport.jobs(list) == """
        JOB ID  OPERATION  STATUS   PROGRESS  SUBMITTED  MEDIA
        a1      enhance    Running  42%       t1         -
        b2      analyze    Success  100%      t2         1 min 01 s

        """)
    #expect(ResultReport.jobs([]) == "no jobs\n")
    let preview = try JSONValue.parse(
      Data(#"{"job_id": "c3", "path": "/media/master/preview", "status": "Success"}"#.utf8))
    #expect(ResultReport.jobs([preview]).contains("c3      master/preview  Success"), "\(ResultReport.jobs([preview]))")
  }
}
