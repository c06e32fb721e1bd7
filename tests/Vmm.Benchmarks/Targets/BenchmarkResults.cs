using BenchmarkDotNet.Reports;

namespace Vmm.Benchmarks.Targets;

/// <summary>Per-operation means and allocations of the cases in a set of summaries, looked up by class, method and parameters.</summary>
internal sealed class BenchmarkResults(IReadOnlyList<Summary> summaries)
{
    /// <summary>Mean in ns per operation (BenchmarkDotNet has divided by OperationsPerInvoke); null if the case did not run.</summary>
    public double? Mean(Type type, string method, params (string Name, object Value)[] parameters)
    {
        var report = Reports().FirstOrDefault(report =>
            report.BenchmarkCase.Descriptor.Type == type
            && report.BenchmarkCase.Descriptor.WorkloadMethod.Name == method
            && parameters.All(parameter => Equals(report.BenchmarkCase.Parameters[parameter.Name], parameter.Value)));
        return report?.ResultStatistics?.Mean;
    }

    public IEnumerable<(string Name, double Bytes)> AllocatedPerOperation()
        => from report in Reports()
           let bytes = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase)
           where report.Success && bytes is not null
           select ($"{report.BenchmarkCase.Descriptor.DisplayInfo} {report.BenchmarkCase.Parameters.DisplayInfo}".TrimEnd(), (double)bytes.Value);

    private IEnumerable<BenchmarkReport> Reports() => summaries.SelectMany(summary => summary.Reports);
}
