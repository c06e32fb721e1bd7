using Vmm.Tests.Shared;

namespace Vmm.Plugins.Tdx.Tests.Infrastructure;

/// <summary>A fact that runs only where the platform's crypto library has KMAC128 (SHA-3), the oracle of the managed MAC.</summary>
public sealed class Sha3FactAttribute : FactAttribute
{
    public Sha3FactAttribute()
    {
        if (!OpenSslSha3LineMac.IsSupported) Skip = "KMAC128 (SHA-3) is not available from this platform's crypto library";
    }
}

/// <summary>A theory that runs only where the platform's crypto library has KMAC128 (SHA-3), the oracle of the managed MAC.</summary>
public sealed class Sha3TheoryAttribute : TheoryAttribute
{
    public Sha3TheoryAttribute()
    {
        if (!OpenSslSha3LineMac.IsSupported) Skip = "KMAC128 (SHA-3) is not available from this platform's crypto library";
    }
}

/// <summary>A fact about the Linux machine the suite is meant to run on (OpenSSL 3, AES-NI).</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "only meaningful on Linux";
    }
}
