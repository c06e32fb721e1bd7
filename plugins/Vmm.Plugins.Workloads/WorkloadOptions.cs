using System.ComponentModel.DataAnnotations;
using Vmm.Abstractions;

namespace Vmm.Plugins.Workloads;

/// <summary>The options every workload has: the guest's size and how many of its pages the run touches (costs grow with pages, not memory).</summary>
public class WorkloadOptions : IValidatableObject
{
    [Option("Guest memory of each VM in MiB.")]
    public int MemoryMiB { get; set; } = 8;

    [Option("How many distinct 4 KiB guest pages the workload touches.")]
    public int Pages { get; set; } = 64;

    /// <summary>The VM's size in 4 KiB pages.</summary>
    internal int GuestPages => MemoryMiB * 256;

    public virtual IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MemoryMiB is < 1 or > 65536) yield return new ValidationResult($"memoryMiB must be 1 to 65536, not {MemoryMiB}", [nameof(MemoryMiB)]);
        if (Pages < 1) yield return new ValidationResult($"pages must be 1 or more, not {Pages}", [nameof(Pages)]);
        else if (MemoryMiB >= 1 && Pages > GuestPages) yield return new ValidationResult($"pages ({Pages}) is more than the guest has ({GuestPages} in {MemoryMiB} MiB); raise memoryMiB or lower pages", [nameof(Pages)]);
    }
}

/// <summary>Options of a workload that goes round a loop (virtio-io's I/O requests, memory-errors' errors).</summary>
public sealed class RoundsOptions : WorkloadOptions
{
    [Option("How many rounds (I/O requests, memory errors) the workload runs.")]
    public int Rounds { get; set; } = 16;

    public override IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var result in base.Validate(validationContext)) yield return result;
        if (Rounds < 1) yield return new ValidationResult($"rounds must be 1 or more, not {Rounds}", [nameof(Rounds)]);
    }
}

/// <summary>Options of thp-heavy: how the guest shares its huge-page-mapped memory.</summary>
public sealed class ThpHeavyOptions : WorkloadOptions
{
    private static readonly string[] Modes = ["mixed", "scattered", "whole"];

    [Option("How the guest shares: \"scattered\" 4 KiB pages (bounce buffers), \"whole\" 2 MiB regions it touched privately first, or \"mixed\" (both).")]
    public string Sharing { get; set; } = "mixed";

    public override IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        foreach (var result in base.Validate(validationContext)) yield return result;
        if (!Modes.Contains(Sharing)) yield return new ValidationResult($"sharing must be one of {string.Join(", ", Modes)}, not \"{Sharing}\"", [nameof(Sharing)]);
    }
}
