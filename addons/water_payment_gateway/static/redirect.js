// Post the bank's form at once; its button stays for a browser without
// scripts
document.getElementById('bank-form').submit();
